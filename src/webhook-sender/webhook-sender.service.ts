import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { AxiosRequestConfig } from 'axios';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { buildWebhookRequest, readLimited, signatureHeader, snippet } from '#webhook';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { USER_AGENT } from './user-agent.js';
import { webhookAdapter } from './webhook-adapter.js';
import { TargetPolicyService } from '../target-policy/target-policy.service.js';

/** The TCP keep-alive delay of the connections to receivers (set once per connection by the agents). */
const SOCKET_KEEPALIVE_MS = 60_000;
/** What receivers have always been sent as `Accept` (axios's default). */
const ACCEPT = 'application/json, text/plain, */*';

export interface OutgoingWebhook {
  id: string;
  method: 'GET' | 'POST';
  url: string;
  payload: Record<string, string>;
  secrets: string[];
  sequence: number;
  changedAt: Date;
  /** Headers beyond the standard ones, e.g. `Agent-Event-Test` on a test event. */
  extraHeaders?: Record<string, string>;
}

export interface SendResult {
  statusCode: number | null;
  /**
   * What a tenant may read about a failure (the delivery log, the test event, the job in Bull Board): one of
   * `target_not_allowed: …`, `connection_failed: …` or `timeout: …`, never an address, a port or a system error;
   * the detail goes to the operator's log. Or a redirect not followed.
   */
  error: string | null;
  retryAfter: string | undefined;
  responseSnippet: string | null;
  durationMs: number;
}

/** A connection that failed, whatever the cause: refused, reset, unreachable, a name that did not resolve, TLS. */
export const CONNECTION_FAILED =
  'connection_failed: no answer could be read from the receiver (the connection was refused, reset or could not be made, or its host name did not resolve)';

/** Sends one webhook request and reports what happened; never throws for a receiver's failure. */
@Injectable()
export class WebhookSenderService implements OnApplicationShutdown {
  private readonly logger = new Logger('WebhookSender');
  // Keep-alive to receivers; `lookup` checks the address actually connected to (no DNS rebinding).
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(
    private readonly httpService: HttpService,
    private readonly targets: TargetPolicyService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    const lookup = targets.policy.lookup;
    const options = { keepAlive: true, keepAliveMsecs: SOCKET_KEEPALIVE_MS, maxSockets: 256, lookup };
    this.httpAgent = new http.Agent(options);
    this.httpsAgent = new https.Agent(options);
    // axios merges its instance's defaults into every request's config, key by key, and copies and normalises their
    // headers (common and per method). The instance is the sender's own (webhook-sender.module.ts): its defaults are
    // replaced by what every webhook request is sent with, so a request's config is only what differs. Every header
    // is set in `send`; axios's defaults for its own adapters (transitional, env, xsrf, limits, status check) do
    // nothing with webhookAdapter. About 30 % less of axios's CPU per request (bench/README.md).
    const defaults = httpService.axiosRef.defaults as unknown as Record<string, unknown>;
    for (const key of Object.keys(defaults)) delete defaults[key];
    // axios's merge of the config costs per key (each on an object in dictionary mode): only what the adapter reads.
    // With no transformRequest or transformResponse, the body goes as built (buildWebhookRequest) and the answer is
    // read as it came (readLimited); webhookAdapter answers with a stream whatever the responseType.
    Object.assign(defaults, {
      // One request as it is: no redirect followed, no proxy, any status code an answer (webhook-adapter.ts).
      adapter: webhookAdapter,
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      // The whole attempt (connect, answer, body) has one deadline (webhook-adapter.ts).
      timeout: config.webhook.timeoutMs,
    } satisfies AxiosRequestConfig);
  }

  async send(webhook: OutgoingWebhook): Promise<SendResult> {
    const started = performance.now();
    const timestamp = Math.floor(Date.now() / 1000);
    const request = buildWebhookRequest(webhook.method, webhook.url, webhook.payload);
    const failed = (error: string): SendResult => ({
      statusCode: null,
      error,
      retryAfter: undefined,
      responseSnippet: null,
      durationMs: Math.round(performance.now() - started),
    });
    const verdict = this.targets.policy.checkUrl(request.url);
    if (!verdict.ok) {
      this.logger.warn({
        msg: 'webhook target refused',
        webhookId: webhook.id,
        host: hostOf(request.url),
        refused: verdict.refused ?? verdict.reason,
      });
      return failed(`target_not_allowed: ${verdict.reason}`);
    }
    try {
      const response = await this.httpService.axiosRef.request<Readable>({
        method: request.method,
        url: request.url,
        data: request.body,
        webhookHeaders: {
          Accept: ACCEPT,
          ...request.headers,
          'User-Agent': USER_AGENT,
          'webhook-id': webhook.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader(webhook.secrets, webhook.id, timestamp, request.signedContent),
          'Agent-Event-Sequence': String(webhook.sequence),
          'Agent-Event-Changed-At': webhook.changedAt.toISOString(),
          ...webhook.extraHeaders,
        },
      });
      const body = await readLimited(response.data, this.config.webhook.maxResponseBytes);
      const retryAfter = response.headers['retry-after'];
      const statusCode = response.status;
      return {
        statusCode,
        error: statusCode >= 300 && statusCode < 400 ? `redirect to ${String(response.headers.location ?? '?')} not followed` : null,
        retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
        responseSnippet: body.text ? snippet(body.text) : null,
        durationMs: Math.round(performance.now() - started),
      };
    } catch (error) {
      const { tenant, detail, refused } = describeError(error, this.config.webhook.timeoutMs, this.targets.policy.refusal);
      // The operator's log keeps what the tenant is not told: the system error, the address and port.
      this.logger[refused ? 'warn' : 'log']({
        msg: 'webhook request failed',
        webhookId: webhook.id,
        host: hostOf(request.url),
        error: detail,
      });
      return failed(tenant);
    }
  }

  onApplicationShutdown(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The host and port of a URL (never its path or query: they may carry a receiver's key), for the operator's log. */
function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '?';
  }
}

/**
 * A failed request in two words: `tenant`, what the tenant may read (the class of failure, the same text for every
 * cause within it: whether a port is closed or a name unknown must not show), and `detail`, for the operator's log.
 */
function describeError(error: unknown, timeoutMs: number, refusal: string): { tenant: string; detail: string; refused: boolean } {
  // Node's error as it is, or the deadline's (webhook-adapter.ts).
  const { code, message, address } = error as { code?: string; message?: string; address?: string };
  const detail = `${code ?? 'error'}: ${message ?? String(error)}`.slice(0, 500);
  if (code === 'TARGET_NOT_ALLOWED') {
    return { tenant: `target_not_allowed: ${refusal}`, detail: `${detail} (address ${address ?? '?'})`, refused: true };
  }
  if (code === 'ERR_CANCELED' || code === 'ABORT_ERR' || /timeout|aborted/i.test(message ?? '')) {
    return { tenant: `timeout: no complete answer within ${timeoutMs} ms`, detail, refused: false };
  }
  return { tenant: CONNECTION_FAILED, detail, refused: false };
}
