import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsString, IsUrl, MaxLength } from 'class-validator';
import { IsOmittable } from '../../common/validation.js';
import { EVENT_TYPES, HTTP_METHODS, type EventType, type HttpMethod } from '../entities/agent-event.entity.js';

const property = (required: boolean) => (required ? ApiProperty : ApiPropertyOptional);
const optional = (required: boolean) => (required ? [] : [IsOmittable()]);

const UrlField = (required: boolean) =>
  applyDecorators(
    property(required)({
      example: 'https://hooks.example.com/fordel/show.php',
      maxLength: 2048,
      description: 'Where the request is sent when the event happens: an absolute http or https URL.',
    }),
    ...optional(required),
    IsString(),
    MaxLength(2048),
    IsUrl(
      { protocols: ['http', 'https'], require_protocol: true, require_tld: false, allow_underscores: true, require_valid_protocol: true },
      { message: 'url must be an absolute http or https URL' },
    ),
  );

const EventTypeField = (required: boolean) =>
  applyDecorators(
    property(required)({
      enum: EVENT_TYPES,
      example: 'agent-login',
      description: '`agent-login`: the agent entered the queue; `agent-logout`: the agent left it.',
    }),
    ...optional(required),
    IsIn(EVENT_TYPES, { message: `event_type must be one of: ${EVENT_TYPES.join(', ')}` }),
  );

const MethodField = (required: boolean) =>
  applyDecorators(
    property(required)({
      enum: HTTP_METHODS,
      example: 'GET',
      description: 'GET: the data goes in the query string; POST: in the body. Both application/x-www-form-urlencoded.',
    }),
    ...optional(required),
    IsIn(HTTP_METHODS, { message: `method must be one of: ${HTTP_METHODS.join(', ')}` }),
  );

export class CreateAgentEventDto {
  @UrlField(true) url!: string;
  @EventTypeField(true) event_type!: EventType;
  @MethodField(true) method!: HttpMethod;
}

export class UpdateAgentEventDto {
  @UrlField(false) url?: string;
  @EventTypeField(false) event_type?: EventType;
  @MethodField(false) method?: HttpMethod;
}

/** Exactly the spec's AgentEvent with its id: nothing more, nothing less. */
export class AgentEventResponseDto {
  @ApiProperty({ example: 'https://hooks.example.com/fordel/show.php' }) url!: string;
  @ApiProperty({ enum: HTTP_METHODS, example: 'GET' }) method!: HttpMethod;
  @ApiProperty({ enum: EVENT_TYPES, example: 'agent-login' }) event_type!: EventType;
  @ApiProperty({ example: 150 }) id!: number;
}
