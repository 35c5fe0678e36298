import { Module } from '@nestjs/common';
import { DeliveriesRepository } from './deliveries.repository.js';

/** The delivery table family (deliveries and their attempts): its repository, for the delivery log and the worker. */
@Module({ providers: [DeliveriesRepository], exports: [DeliveriesRepository] })
export class DeliveriesModule {}
