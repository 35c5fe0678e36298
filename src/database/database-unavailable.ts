/** Error codes of a MySQL server that is down, restarting or out of reach (not of a bad query). */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_CONNECTION_KILLED',
]);

/** True when the error says the database is not answering, so the request can be answered 503 and tried again. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const { code, driverError, fatal } = (error ?? {}) as { code?: string; driverError?: { code?: string }; fatal?: boolean };
  const reported = driverError?.code ?? code;
  return (reported !== undefined && UNAVAILABLE_CODES.has(reported)) || (fatal === true && reported?.startsWith('PROTOCOL_') === true);
}
