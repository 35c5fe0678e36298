import { Module } from '@nestjs/common';
import { ReceiverIsolationService } from './receiver-isolation.service.js';

/** Keeps a receiver that hangs or fails from taking delivery capacity from the others. */
@Module({ providers: [ReceiverIsolationService], exports: [ReceiverIsolationService] })
export class ReceiverIsolationModule {}
