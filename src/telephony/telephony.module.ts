import { Module } from '@nestjs/common';
import { AgentsModule } from '../agents/agents.module.js';
import { TelephonyController } from './telephony.controller.js';

@Module({ imports: [AgentsModule], controllers: [TelephonyController] })
export class TelephonyModule {}
