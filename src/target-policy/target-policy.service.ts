import { HttpStatus, Inject, Injectable } from '@nestjs/common';
import { TargetPolicy } from '#webhook';
import { ApiError } from '../common/api-error.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';

/** Appended to every refusal, so whoever reads it (a 400, a failed attempt) learns the setting that allows a target. */
export const ALLOW_HINT = 'not in WEBHOOK_ALLOWED_CIDRS';

/** Where webhooks may go: never to private, loopback or link-local addresses unless WEBHOOK_ALLOWED_CIDRS says so. */
@Injectable()
export class TargetPolicyService {
  readonly policy: TargetPolicy;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    // loadConfig has checked every CIDR, so a bad list stops the start with one sentence before this runs.
    this.policy = new TargetPolicy(config.webhook.allowedCidrs, undefined, ALLOW_HINT);
  }

  /**
   * A URL whose host is a literal refused address: 400 `target_not_allowed`, saying why in general terms (no address).
   * Host names are checked at connect time.
   */
  assertAllowedUrl(url: string): void {
    const verdict = this.policy.checkUrl(url);
    if (!verdict.ok) throw new ApiError(HttpStatus.BAD_REQUEST, 'target_not_allowed', `url is not allowed: ${verdict.reason}`);
  }
}
