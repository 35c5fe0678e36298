// The naive reference's MySQL: one pool per process, as the service has, and a transaction helper.
import mysql from 'mysql2/promise';

export const pool = mysql.createPool({
  uri: process.env.DATABASE_URL,
  timezone: 'Z',
  charset: 'utf8mb4_unicode_ci',
  connectionLimit: Number(process.env.DB_POOL_SIZE || 16), // the service's pool size
  enableKeepAlive: true,
});

/** Runs `work(connection)` in a transaction, again when InnoDB picked it as a deadlock victim. */
export async function transaction(work) {
  for (let attempt = 1; ; attempt++) {
    const connection = await pool.getConnection();
    try {
      await connection.beginTransaction();
      const result = await work(connection);
      await connection.commit();
      return result;
    } catch (error) {
      await connection.rollback().catch(() => undefined);
      if (error.code !== 'ER_LOCK_DEADLOCK' || attempt >= 5) throw error;
    } finally {
      connection.release();
    }
  }
}
