import type { Pool } from 'mysql2';
import { QueryFailedError, type DataSource } from 'typeorm';

type Parameter = string | number | Date | null;

/** Runs `sql` as a prepared statement of a pooled connection (mysql2's `execute`), logged as TypeORM logs its queries. */
function executePrepared(dataSource: DataSource, sql: string, parameters: Parameter[]): Promise<unknown> {
  // TypeORM's mysql driver keeps its mysql2 pool here (the service configures no replication, which would replace it).
  const { pool } = dataSource.driver as unknown as { pool: Pool };
  dataSource.logger.logQuery(sql, parameters);
  return new Promise((resolve, reject) =>
    pool.execute(sql, parameters, (error, results) => {
      if (!error) return resolve(results);
      dataSource.logger.logQueryError(error, sql, parameters);
      // As TypeORM's `query` reports it: callers read a duplicate key or a deadlock from `driverError`.
      reject(new QueryFailedError(sql, parameters, error));
    }),
  );
}

/**
 * Runs a SELECT as a prepared statement of the pooled connection it gets (mysql2's `execute`: prepared once per
 * connection and SQL text, then only executed, over the binary protocol), beside TypeORM's query runner, which
 * sends every statement as text for MariaDB to parse and plan again. For the hot reads whose parse and plan cost
 * more than their run: the worker's load of a delivery to send, with the subqueries of the per-agent order, took
 * MariaDB 0.13–0.17 ms of CPU and 0.23–0.26 ms in all executed, against 0.23–0.32 and 0.39–0.50 ms sent as text
 * (the rows are the same; bench/README.md, History, 2026-12-03). The statement is logged as TypeORM logs its
 * queries (AE_LOG_SQL); an error is TypeORM's QueryFailedError around mysql2's, as from `query`.
 */
export async function selectPrepared<T>(dataSource: DataSource, sql: string, parameters: Parameter[]): Promise<T[]> {
  return (await executePrepared(dataSource, sql, parameters)) as T[];
}

/**
 * Calls a stored procedure on the everyday path (a change alone, an attempt alone) as a prepared statement, without
 * TypeORM's query runner (a runner made, connected, released and its events broadcast for each call): the result is
 * what TypeORM's `query` gives for a CALL, each result set's rows and then the final OK packet, and an error the same
 * QueryFailedError. The SQL text is fixed, so each pooled connection prepares it once.
 */
export async function callPrepared(dataSource: DataSource, sql: string, parameters: Parameter[]): Promise<unknown[]> {
  return (await executePrepared(dataSource, sql, parameters)) as unknown[];
}
