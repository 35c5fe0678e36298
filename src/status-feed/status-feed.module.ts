import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module.js';
import { StatusModule } from '../status/status.module.js';
import { StatusFeedController } from './status-feed.controller.js';
import { StatusFeedService } from './status-feed.service.js';

/** The status-change feed API: a client's changes in commit order, paged by cursor. */
@Module({
  imports: [ClientsModule, StatusModule],
  controllers: [StatusFeedController],
  providers: [StatusFeedService],
})
export class StatusFeedModule {}
