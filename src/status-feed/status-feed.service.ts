import { Injectable } from '@nestjs/common';
import { ClientsService } from '../clients/clients.service.js';
import { ApiError } from '../common/api-error.js';
import { StatusChangesRepository, type FeedFilter, type FeedRow } from '../status/status-changes.repository.js';
import { BAD_CURSOR_MESSAGE, type StatusChangeItemDto, type StatusChangePageDto } from './dto/status-change.dto.js';
import { decodeCursor, encodeCursor, FEED_START } from './feed-cursor.js';

function toItem(row: FeedRow): StatusChangeItemDto {
  return {
    agent_id: Number(row.agent_id),
    agent_type: row.agent_type,
    ...(row.agent_type === 'local' ? { extension_name: row.agent_name ?? '' } : { agent_number: row.agent_name ?? '' }),
    agent_status: row.agent_status,
    event_source: row.event_source,
    sequence: Number(row.sequence),
    changed_at: row.changed_at.toISOString(),
    cursor: encodeCursor(Number(row.feed_position)),
  };
}

/**
 * A client's status changes as a feed it can page through: in commit order, each exactly once from any cursor, also
 * while changes are being written (`change_agents` numbers each client's changes under its counter's lock, so a
 * position is never visible before a smaller one).
 */
@Injectable()
export class StatusFeedService {
  constructor(
    private readonly statusChanges: StatusChangesRepository,
    private readonly clients: ClientsService,
  ) {}

  async page(clientId: string, after: string | undefined, limit: number, filter: FeedFilter): Promise<StatusChangePageDto> {
    const position = decodeCursor(after ?? FEED_START);
    if (position === undefined) throw ApiError.validation(BAD_CURSOR_MESSAGE);
    await this.clients.require(clientId);
    const rows = await this.statusChanges.feedPage(clientId, position, limit, filter);
    const items = rows.slice(0, limit).map(toItem);
    return {
      status_changes: items,
      next_cursor: items.length > 0 ? items[items.length - 1].cursor : encodeCursor(position),
      has_more: rows.length > limit,
    };
  }
}
