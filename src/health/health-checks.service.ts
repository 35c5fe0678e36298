import { HttpStatus, Injectable } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { ApiError } from '../common/api-error.js';
import { RedisHealthClient } from '../redis/redis-health.client.js';

const CHECK_TIMEOUT_MS = 2000;

export type ReadyBody = { status: 'ok' } & Record<string, string>;
/** More checks by name: each resolves when that part is up, and throws (or takes too long) when it is not. */
export type ExtraChecks = Record<string, () => Promise<unknown>>;

/** Readiness through @nestjs/terminus: MySQL and Redis answer (and whatever else the process needs, e.g. its queue consumer). */
@Injectable()
export class HealthChecks {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly mysql: TypeOrmHealthIndicator,
    private readonly redis: RedisHealthClient,
  ) {}

  /** The names of the dependencies that do not answer; none when the process is ready. */
  async down(extra: ExtraChecks = {}): Promise<string[]> {
    try {
      await this.health.check([
        () => this.mysql.pingCheck('mysql', { timeout: CHECK_TIMEOUT_MS }),
        () =>
          this.indicators
            .check('redis')
            .attempt(() => this.redis.ping().then(() => undefined))
            .withTimeout(CHECK_TIMEOUT_MS),
        ...Object.entries(extra).map(
          ([name, check]) =>
            () =>
              this.indicators
                .check(name)
                .attempt(() => check().then(() => undefined))
                .withTimeout(CHECK_TIMEOUT_MS),
        ),
      ]);
      return [];
    } catch (error) {
      const body = (error as { getResponse?: () => { error?: Record<string, unknown> } }).getResponse?.();
      if (body?.error) return Object.keys(body.error);
      throw error;
    }
  }

  /** 200 `{"status": "ok", "mysql": "up", ...}`, or 503 `{"message": "mysql is not answering", "status": "unavailable"}`. */
  async ready(extra: ExtraChecks = {}): Promise<ReadyBody> {
    const down = await this.down(extra);
    if (down.length) {
      throw new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        'unavailable',
        `${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} not answering`,
      );
    }
    return Object.fromEntries([['status', 'ok'], ...['mysql', 'redis', ...Object.keys(extra)].map((name) => [name, 'up'])]) as ReadyBody;
  }
}
