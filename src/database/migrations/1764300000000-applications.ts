import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A client's applications: the OAuth2 client credentials its code exchanges for access tokens. */
export class Applications1764300000000 implements MigrationInterface {
  name = 'Applications1764300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE applications (
        id varchar(32) NOT NULL,
        client_id varchar(64) NOT NULL,
        name varchar(255) NOT NULL,
        secret_hash varchar(255) NOT NULL,
        created_at datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        KEY idx_applications_client (client_id, created_at),
        CONSTRAINT fk_applications_client FOREIGN KEY (client_id) REFERENCES clients (id) ON DELETE CASCADE
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE applications');
  }
}
