import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../common/access.decorator.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ClientIdPipe } from '../common/id-params.js';
import { StatusChangeFeedQueryDto, StatusChangePageDto } from './dto/status-change.dto.js';
import { STATUS_FEED_ERRORS } from './status-feed.errors.js';
import { StatusFeedService } from './status-feed.service.js';

@ApiTags('status-changes')
@ApiBearerAuth()
@Access('admin', 'client')
@Controller('client/:client_id/status-change')
export class StatusFeedController {
  constructor(private readonly feed: StatusFeedService) {}

  @Get()
  @ApiOperation({
    summary: "The client's status changes in commit order, after a cursor",
    description:
      'Each change once, from any cursor, also while changes are being written. Read on with `after=next_cursor` while `has_more`; ' +
      'an empty page keeps the cursor, to ask again later. Kept at least as long as succeeded deliveries (RETENTION_SUCCEEDED_DAYS).',
  })
  @ApiOkResponse({ type: StatusChangePageDto })
  @ApiErrors(...STATUS_FEED_ERRORS)
  list(@Param('client_id', ClientIdPipe) clientId: string, @Query() query: StatusChangeFeedQueryDto): Promise<StatusChangePageDto> {
    return this.feed.page(clientId, query.after, query.limit, { agentType: query.agent_type, agentId: query.agent_id });
  }
}
