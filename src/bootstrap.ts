import { Logger, type INestApplicationContext } from '@nestjs/common';
import { readConfig } from './config/config.module.js';
import { ConfigError, type AppConfig } from './config/configuration.js';

/** Invalid configuration stops the start with one sentence naming the variable. */
export async function loadConfigOrExit(): Promise<AppConfig> {
  try {
    return await readConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`agent-events: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * On SIGTERM/SIGINT: stop taking work, let in-flight webhook requests finish (the worker's close waits for
 * active jobs), close the pools, exit 0; after `graceMs` exit anyway, and BullMQ hands the jobs to another worker.
 */
export function stopGracefully(app: INestApplicationContext, graceMs: number): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const logger = new Logger('agent-events');
    logger.log(`${signal}: finishing in-flight work (at most ${graceMs} ms)`);
    setTimeout(() => {
      logger.warn('grace period over; exiting with work still in flight (it will be retried)');
      process.exit(0);
    }, graceMs).unref();
    app.close().then(
      () => process.exit(0),
      (error: Error) => {
        logger.error(`shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
