import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsString, Length, Matches } from 'class-validator';
import { IsFreeText } from '../../common/free-text.js';
import { IsOmittable } from '../../common/validation.js';
import { AGENT_STATUSES } from '../entities/agent.entity.js';

/** Each field's rule and its Swagger description, stated once. */
export const ExtensionNameField = (required: boolean) =>
  applyDecorators(
    (required ? ApiProperty : ApiPropertyOptional)({
      example: '000*094@ringme.ru',
      maxLength: 255,
      description: "The extension's full name; unique within the client.",
    }),
    ...(required ? [] : [IsOmittable()]),
    IsString(),
    Length(1, 255),
    IsFreeText(),
  );

export const AgentNumberField = (required: boolean) =>
  applyDecorators(
    (required ? ApiProperty : ApiPropertyOptional)({
      example: '+74951234567',
      pattern: '^\\+?[0-9]{1,31}$',
      description: "The external agent's phone number: digits with an optional leading +; unique within the client.",
    }),
    ...(required ? [] : [IsOmittable()]),
    IsString(),
    Matches(/^\+?[0-9]{1,31}$/, { message: 'agent_number must be digits with an optional leading +, at most 31 digits' }),
  );

export const AgentStatusField = () =>
  applyDecorators(
    ApiPropertyOptional({
      enum: AGENT_STATUSES,
      description: '`available`: in the queue, takes queue calls; `logged_out`: out of it. A change here has event_source=api.',
    }),
    IsOmittable(),
    IsIn(AGENT_STATUSES, { message: `status must be one of: ${AGENT_STATUSES.join(', ')}` }),
  );
