import { Module } from '@nestjs/common';
import { StatusService } from './status.service.js';

/** The events domain service: status-change detection and the outbox rows it writes. */
@Module({ providers: [StatusService], exports: [StatusService] })
export class StatusModule {}
