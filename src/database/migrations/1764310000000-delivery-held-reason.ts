import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Why a pending delivery waits without using an attempt (its receiver's host is at its limit or its circuit is open). */
export class DeliveryHeldReason1764310000000 implements MigrationInterface {
  name = 'DeliveryHeldReason1764310000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE deliveries ADD held_reason varchar(255) NULL AFTER last_error');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE deliveries DROP COLUMN held_reason');
  }
}
