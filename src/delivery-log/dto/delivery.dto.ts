import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { AGENT_STATUSES } from '../../agents/entities/agent.entity.js';
import { IsDecimalInt } from '../../common/validation.js';
import { EVENT_SOURCES } from '../../status/event-source.js';
import { DELIVERY_KINDS, type DeliveryKind } from '../../deliveries/delivery-kind.js';
import { DELIVERY_STATES, type DeliveryState } from '../../deliveries/delivery-state.js';

export const MAX_PAGE = 10_000;

export class DeliveryPageQueryDto {
  // Capped so that (page - 1) × per_page stays a small OFFSET.
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE, default: 1 })
  @IsOptional()
  @IsDecimalInt(1, MAX_PAGE)
  page: number = 1;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @IsDecimalInt(1, 100)
  per_page: number = 20;
}

export class ClientDeliveryQueryDto extends DeliveryPageQueryDto {
  @ApiPropertyOptional({ enum: DELIVERY_STATES })
  @IsOptional()
  @IsIn(DELIVERY_STATES, { message: `state must be one of: ${DELIVERY_STATES.join(', ')}` })
  state?: DeliveryState;
}

export class StatusChangeViewDto {
  @ApiProperty({ enum: AGENT_STATUSES }) agent_status!: string;
  @ApiProperty({ enum: EVENT_SOURCES }) event_source!: string;
  @ApiProperty({ example: 7, description: "The agent's status-change sequence number; only grows." }) sequence!: number;
  @ApiProperty({ example: '2026-11-25T15:07:50.123Z' }) changed_at!: string;
}

export class DeliveryViewDto {
  @ApiProperty({ example: 'msg_01KMZ3T3XK2J8Q6D0V6B1N7R4S', description: 'Also the webhook-id header of every attempt.' }) id!: string;
  @ApiProperty({ example: 136 }) agent_id!: number;
  @ApiProperty({ example: 150 }) agent_event_id!: number;
  @ApiProperty({ example: 'https://hooks.example.com/fordel/show.php' }) url!: string;
  @ApiProperty({ enum: ['GET', 'POST'] }) method!: string;
  @ApiProperty({
    enum: DELIVERY_KINDS,
    description: "change: the webhook of a status change; sync: the agent's state sent on request (POST …/event/{event_id}/sync).",
  })
  kind!: DeliveryKind;
  @ApiProperty({ type: StatusChangeViewDto }) status_change!: StatusChangeViewDto;
  @ApiProperty({
    enum: DELIVERY_STATES,
    description:
      'pending until it succeeds; dead after its last retry failed (or its agent or agent event was deleted); superseded when a newer change of its agent to the same URL took its place (it is never sent after the newer one).',
  })
  state!: DeliveryState;
  @ApiProperty({ example: 1 }) attempt_count!: number;
  @ApiProperty({ nullable: true, type: Number, example: 200 }) last_status_code!: number | null;
  @ApiProperty({ nullable: true, type: String, example: null }) last_error!: string | null;
  @ApiProperty({
    nullable: true,
    type: String,
    example: 'held: host hooks.example.com circuit open',
    description:
      'Why a pending delivery waits without using an attempt: its host is at its limit or its circuit is open, or it waits for an older delivery of its agent to the same URL (named here), so webhooks arrive in the order of the changes.',
  })
  held_reason!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'When the next attempt is due (pending only).' }) next_attempt_at!:
    string | null;
  @ApiProperty() created_at!: string;
  @ApiProperty({ nullable: true, type: String }) delivered_at!: string | null;
}

export class DeliveryPageDto {
  @ApiProperty({ type: DeliveryViewDto, isArray: true, description: 'Newest first.' }) deliveries!: DeliveryViewDto[];
  @ApiProperty({ example: 1 }) page!: number;
  @ApiProperty({ example: 20 }) per_page!: number;
  @ApiProperty({ example: false, description: 'Whether a next page has deliveries.' }) has_more!: boolean;
}

export class DeliveryAttemptViewDto {
  @ApiProperty({ example: 1 }) attempt_number!: number;
  @ApiProperty() started_at!: string;
  @ApiProperty({ example: 12 }) duration_ms!: number;
  @ApiProperty({ nullable: true, type: Number, example: 200 }) status_code!: number | null;
  @ApiProperty({ nullable: true, type: String, example: null }) error!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The start of the response body (at most 512 characters).' })
  response_snippet!: string | null;
}

export class DeliveryDetailDto extends DeliveryViewDto {
  @ApiProperty({
    description: 'Exactly the fields sent, in the order sent.',
    example: { agent_status: 'available', agent_type: 'local', event_source: 'api', agent_id: '136', extension_name: '000*094@ringme.ru' },
  })
  payload!: Record<string, string>;

  @ApiProperty({ type: DeliveryAttemptViewDto, isArray: true }) attempts!: DeliveryAttemptViewDto[];
}
