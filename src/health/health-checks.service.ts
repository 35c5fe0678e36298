import { HttpStatus, Injectable } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { ApiError } from '../common/api-error.js';
import { RedisHealthClient, REFUSES } from '../redis/redis-health.client.js';

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
    return Object.keys(await this.failures(extra));
  }

  /** Each dependency that does not answer, with why. */
  private async failures(extra: ExtraChecks): Promise<Record<string, string>> {
    try {
      await this.health.check([
        () => this.mysql.pingCheck('mysql', { timeout: CHECK_TIMEOUT_MS }),
        () =>
          this.indicators
            .check('redis')
            .attempt(() => this.redis.check())
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
      return {};
    } catch (error) {
      const body = (error as { getResponse?: () => { error?: Record<string, { message?: string }> } }).getResponse?.();
      if (body?.error) return Object.fromEntries(Object.entries(body.error).map(([name, result]) => [name, result.message ?? '']));
      throw error;
    }
  }

  /**
   * 200 `{"status": "ok", "mysql": "up", ...}`, or 503 `{"message": "mysql is not answering", "status": "unavailable"}`;
   * when Redis answers but refuses the queue's commands, the message says with what (`redis refuses the queue's
   * commands: MOVED 866 10.0.0.2:6379`).
   */
  async ready(extra: ExtraChecks = {}): Promise<ReadyBody> {
    const failures = Object.entries(await this.failures(extra));
    if (failures.length) {
      const silent = failures.filter(([, reason]) => !reason.startsWith(REFUSES)).map(([name]) => name);
      const refusing = failures.filter(([, reason]) => reason.startsWith(REFUSES)).map(([name, reason]) => `${name} ${reason}`);
      const sentences = silent.length ? [`${silent.join(' and ')} ${silent.length > 1 ? 'are' : 'is'} not answering`] : [];
      throw new ApiError(HttpStatus.SERVICE_UNAVAILABLE, 'unavailable', [...sentences, ...refusing].join('; '));
    }
    return Object.fromEntries([['status', 'ok'], ...['mysql', 'redis', ...Object.keys(extra)].map((name) => [name, 'up'])]) as ReadyBody;
  }
}
