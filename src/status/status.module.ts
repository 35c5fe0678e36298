import { Module } from '@nestjs/common';
import { StatusChangesRepository } from './status-changes.repository.js';
import { StatusService } from './status.service.js';

/** The events domain service: the rules of a status change, and the repository that applies them with the outbox rows. */
@Module({ providers: [StatusService, StatusChangesRepository], exports: [StatusService, StatusChangesRepository] })
export class StatusModule {}
