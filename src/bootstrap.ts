import { Logger, type INestApplication, type INestApplicationContext } from '@nestjs/common';
import { createServer } from 'node:net';
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

/** Why a port cannot be listened on, as one sentence naming its variable; undefined for any other error. */
function portProblem(error: unknown, variable: string, port: number, host: string): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return `agent-events: ${variable} ${port} is already in use on ${host}: stop what listens there, or set ${variable} to a free port.`;
  }
  if (code === 'EACCES') {
    return `agent-events: ${variable} ${port} needs privileges this user does not have on ${host}: set ${variable} to a port above 1023.`;
  }
  return undefined;
}

/**
 * A port already taken (or privileged) stops the start with one sentence naming its variable, before anything else
 * is started: the port is tried for a moment here and let go at once.
 */
export async function portFreeOrExit(variable: string, port: number, host: string): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  const problem = await new Promise<string | undefined>((resolve) => {
    probe.once('error', (error) => resolve(portProblem(error, variable, port, host)));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
  if (problem) {
    console.error(problem);
    process.exit(1);
  }
}

/** `app.listen`; a port taken since `portFreeOrExit` looked closes the app and exits with the same sentence. */
export async function listenOrExit(app: INestApplication, variable: string, port: number, host: string): Promise<void> {
  try {
    await app.listen(port, host);
  } catch (error) {
    const problem = portProblem(error, variable, port, host);
    if (!problem) throw error;
    console.error(problem);
    await app.close().catch(() => undefined);
    process.exit(1);
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

/** The base URL a person can open for a server listening on `host` (localhost when it listens on every interface). */
export function baseUrl(host: string, port: number): string {
  const everywhere = host === '0.0.0.0' || host === '::';
  return `http://${everywhere ? 'localhost' : host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The banner's first line: where a server listens (HOST), and how to listen everywhere when it does not. */
export function listeningLine(host: string, port: number): string {
  return host === '0.0.0.0' || host === '::'
    ? `Listening   on every interface, port ${port} (HOST=${host})`
    : `Listening   on ${host} only, port ${port} (set HOST=0.0.0.0 to listen on every interface)`;
}
