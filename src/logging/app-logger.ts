import type { LoggerService } from '@nestjs/common';
import type { Logger as PinoLogger } from 'pino';

/**
 * Nest's own start-up report (modules initialised, every controller and route mapped, "started"): some ninety
 * lines at every start, for someone debugging the wiring, so at debug level rather than info.
 */
const STARTUP_CONTEXTS = new Set(['NestFactory', 'NestApplication', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * Nest's logger interface on pino: every `new Logger(context)` of the application writes a JSON line with its
 * `context`.
 */
export class AppLogger implements LoggerService {
  constructor(private readonly logger: PinoLogger) {}

  verbose(message: unknown, ...optionalParams: unknown[]): void {
    this.call('trace', message, optionalParams);
  }

  debug(message: unknown, ...optionalParams: unknown[]): void {
    this.call('debug', message, optionalParams);
  }

  log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams[optionalParams.length - 1];
    this.call(typeof context === 'string' && STARTUP_CONTEXTS.has(context) ? 'debug' : 'info', message, optionalParams);
  }

  warn(message: unknown, ...optionalParams: unknown[]): void {
    this.call('warn', message, optionalParams);
  }

  error(message: unknown, ...optionalParams: unknown[]): void {
    this.call('error', message, optionalParams);
  }

  fatal(message: unknown, ...optionalParams: unknown[]): void {
    this.call('fatal', message, optionalParams);
  }

  /** Nest passes the context last; an object message is merged into the line, an Error becomes its `err`. */
  private call(level: Level, message: unknown, optionalParams: unknown[]): void {
    const logger = this.logger;
    if (!logger.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = {};
    let params = optionalParams;
    if (params.length > 0) {
      line.context = params[params.length - 1];
      params = params.slice(0, -1);
    }
    const write = logger[level].bind(logger) as (object: object, ...rest: unknown[]) => void;
    if (typeof message === 'object') {
      if (message instanceof Error) line.err = message;
      else Object.assign(line, message);
      write(line, ...params);
    } else if (level === 'error' && typeof message === 'string' && isStack(params)) {
      // Nest's own exception handlers call `error(message, stack)`.
      const error = new Error(message);
      error.stack = params[0] as string;
      write({ ...line, err: error });
    } else {
      write(line, message, ...params);
    }
  }
}

function isStack(params: unknown[]): boolean {
  return params.length === 1 && typeof params[0] === 'string' && /\n\s*at /.test(params[0]);
}
