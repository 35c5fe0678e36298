import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, isISO8601, ValidateBy } from 'class-validator';
import { IsOmittable } from '../../common/validation.js';
import { DELIVERY_STATES, RECOVERABLE_STATES, type RecoverableState } from '../../deliveries/delivery-state.js';

/** A date and time with its offset: without one, the same text would be another moment on another server. */
const TIME_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
export const SINCE_FORMAT = 'since must be an ISO 8601 date and time with its offset, e.g. 2026-11-25T04:00:00Z';
export const SINCE_IN_FUTURE = 'since must not be in the future';

const isTime = (value: unknown): value is string =>
  typeof value === 'string' && TIME_WITH_ZONE.test(value) && isISO8601(value, { strict: true, strictSeparator: true });

/** `since`: a moment with its offset, not after now (one message per way of being wrong). */
const IsPastTime = () =>
  ValidateBy({
    name: 'isPastTime',
    validator: {
      validate: (value: unknown) => isTime(value) && Date.parse(value) <= Date.now(),
      defaultMessage: (args) => (isTime(args?.value) ? SINCE_IN_FUTURE : SINCE_FORMAT),
    },
  });

/** An id of the spec's integer ids (as PositiveIntPipe takes a path's), a JSON number: one message whatever is wrong. */
const IsPositiveId = () =>
  ValidateBy({
    name: 'isPositiveId',
    validator: {
      validate: (value: unknown) => Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 4_294_967_295,
      defaultMessage: () => '$property must be a positive integer',
    },
  });

export class StartRecoveryDto {
  @ApiProperty({
    example: '2026-11-25T04:00:00Z',
    description: 'Deliveries created at or after this moment (ISO 8601 with its offset; not in the future).',
  })
  @IsPastTime()
  since!: string;

  @ApiPropertyOptional({
    example: 150,
    minimum: 1,
    description: "Only this agent event's deliveries. An id the client does not have matches nothing.",
  })
  @IsOmittable()
  @IsPositiveId()
  agent_event_id?: number;

  @ApiPropertyOptional({ enum: RECOVERABLE_STATES, default: 'dead', description: 'The state of the deliveries to send again.' })
  @IsOmittable()
  @IsIn(RECOVERABLE_STATES, { message: `state must be one of: ${RECOVERABLE_STATES.join(', ')}` })
  state: RecoverableState = 'dead';
}

export class RecoveryDto {
  @ApiProperty({ example: 'rec_01KMZ3T3XK2J8Q6D0V6B1N7R4S' }) id!: string;
  @ApiProperty({ example: 1250, description: 'The deliveries that matched: in `state`, created at or after `since`.' })
  matched!: number;
  @ApiProperty({
    example: 40,
    description:
      'The matched deliveries sent again: those that are the newest of their agent to their URL. An older one is not sent (its agent has moved on; the newest carries the current state).',
  })
  queued!: number;
  @ApiProperty({ example: '2026-11-25T04:00:00.000Z' }) since!: string;
  @ApiProperty({ nullable: true, type: Number, example: null }) agent_event_id!: number | null;
  @ApiProperty({ enum: RECOVERABLE_STATES }) state!: RecoverableState;
  @ApiProperty({ example: '2026-11-25T15:07:50.123Z' }) created_at!: string;
}

export class RecoveryProgressDto {
  @ApiProperty({ example: 12 }) pending!: number;
  @ApiProperty({ example: 28 }) succeeded!: number;
  @ApiProperty({ example: 0 }) dead!: number;
  @ApiProperty({ example: 0 }) superseded!: number;
}

export class RecoveryDetailDto extends RecoveryDto {
  @ApiProperty({
    type: RecoveryProgressDto,
    description: `Where the deliveries sent again stand now, by state (${DELIVERY_STATES.join(', ')}).`,
  })
  progress!: RecoveryProgressDto;
  @ApiProperty({ example: false, description: 'Whether none of them is pending any more.' }) done!: boolean;
}
