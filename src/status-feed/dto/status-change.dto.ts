import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, Matches } from 'class-validator';
import { AGENT_STATUSES, AGENT_TYPES, type AgentType } from '../../status/agent-state.js';
import { EVENT_SOURCES } from '../../status/event-source.js';
import { IsDecimalInt } from '../../common/validation.js';

export const MAX_FEED_LIMIT = 1000;
export const BAD_CURSOR_MESSAGE = 'after must be a cursor this feed gave out (16 hexadecimal digits)';

export class StatusChangeFeedQueryDto {
  @ApiPropertyOptional({
    example: '00000000000003e8',
    description:
      "A cursor from this feed (an item's `cursor` or a page's `next_cursor`): the changes committed after it. Left out: from the oldest kept.",
  })
  @IsOptional()
  @Matches(/^[0-9a-f]{16}$/, { message: BAD_CURSOR_MESSAGE })
  after?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_FEED_LIMIT, default: 100 })
  @IsOptional()
  @IsDecimalInt(1, MAX_FEED_LIMIT)
  limit: number = 100;

  @ApiPropertyOptional({ enum: AGENT_TYPES })
  @IsOptional()
  @IsIn(AGENT_TYPES, { message: `agent_type must be one of: ${AGENT_TYPES.join(', ')}` })
  agent_type?: AgentType;

  @ApiPropertyOptional({ minimum: 1, description: 'Only this agent’s changes.' })
  @IsOptional()
  @IsDecimalInt(1, 4294967295)
  agent_id?: number;
}

export class StatusChangeItemDto {
  @ApiProperty({ example: 136 }) agent_id!: number;
  @ApiProperty({ enum: AGENT_TYPES }) agent_type!: string;
  @ApiPropertyOptional({ example: 'operator1@ringme.ru', description: 'A local agent’s name at the moment of the change.' })
  extension_name?: string;
  @ApiPropertyOptional({ example: '+74951234567', description: 'A remote agent’s number at the moment of the change.' })
  agent_number?: string;
  @ApiProperty({ enum: AGENT_STATUSES }) agent_status!: string;
  @ApiProperty({ enum: EVENT_SOURCES }) event_source!: string;
  @ApiProperty({ example: 7, description: "The agent's status-change sequence number (Agent-Event-Sequence of its webhooks)." })
  sequence!: number;
  @ApiProperty({ example: '2026-11-25T15:07:50.123Z' }) changed_at!: string;
  @ApiProperty({
    example: '00000000000003e9',
    description: 'Where this change is in the client’s feed: strictly increasing in commit order, stable; pass it as `after` to read on.',
  })
  cursor!: string;
}

export class StatusChangePageDto {
  @ApiProperty({ type: StatusChangeItemDto, isArray: true, description: 'In commit order, oldest first.' })
  status_changes!: StatusChangeItemDto[];
  @ApiProperty({
    example: '00000000000003e9',
    description: 'The `after` of the next page: the last item’s cursor, or the one asked with when the page is empty.',
  })
  next_cursor!: string;
  @ApiProperty({ example: false, description: 'Whether more changes were already committed after this page.' }) has_more!: boolean;
}
