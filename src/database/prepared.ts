import type { Pool } from 'mysql2';
import type { DataSource } from 'typeorm';

/**
 * Runs a SELECT as a prepared statement of the pooled connection it gets (mysql2's `execute`: prepared once per
 * connection and SQL text, then only executed, over the binary protocol), beside TypeORM's query runner, which
 * sends every statement as text for MariaDB to parse and plan again. For the hot reads whose parse and plan cost
 * more than their run: the worker's load of a delivery to send, with the subqueries of the per-agent order, took
 * MariaDB 0.13–0.17 ms of CPU and 0.23–0.26 ms in all executed, against 0.23–0.32 and 0.39–0.50 ms sent as text
 * (the rows are the same; bench/README.md, History, 2026-12-03). The statement is logged as TypeORM logs its
 * queries (AE_LOG_SQL); errors are mysql2's own, as TypeORM's `driverError` carries them.
 */
export function selectPrepared<T>(dataSource: DataSource, sql: string, parameters: (string | number)[]): Promise<T[]> {
  // TypeORM's mysql driver keeps its mysql2 pool here (the service configures no replication, which would replace it).
  const { pool } = dataSource.driver as unknown as { pool: Pool };
  dataSource.logger.logQuery(sql, parameters);
  return new Promise((resolve, reject) =>
    pool.execute(sql, parameters, (error, rows) => (error ? reject(error) : resolve(rows as unknown as T[]))),
  );
}
