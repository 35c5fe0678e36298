import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BullBoardModule, InjectBullBoard, type BullBoardModuleOptions } from '@bull-board/nestjs';
import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { adminBasicAuth } from '../common/admin-basic-auth.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { QueueShards } from './queue-shards.js';

/** Basic auth for Bull Board: user `admin`, password the admin token. */
export const boardAuth = (adminToken: string) => adminBasicAuth(adminToken, 'Bull Board');

const SAFE_METHODS = ['GET', 'HEAD'];

/**
 * Whether a request comes from a page of the board's own origin: `Sec-Fetch-Site: same-origin` when the browser sends
 * it (every current one does), else an `Origin` whose host is the one the request was sent to. A request with neither
 * cannot show where it comes from and is not taken for same-origin.
 */
export function sameOrigin(request: IncomingMessage): boolean {
  const fetchSite = request.headers['sec-fetch-site'];
  if (fetchSite !== undefined) return fetchSite === 'same-origin';
  const origin = request.headers.origin;
  if (!origin || !request.headers.host) return false;
  try {
    return new URL(origin).host === request.headers.host.toLowerCase();
  } catch {
    return false;
  }
}

function refuse(response: ServerResponse, message: string): void {
  response.statusCode = 403;
  response.setHeader('Content-Type', 'application/json; charset=utf-8');
  response.end(JSON.stringify({ message, status: 'access_denied' }));
}

/**
 * Bull Board's guard: basic auth (user `admin`, the admin token) for every route; a route that changes something
 * (anything but GET and HEAD) also needs a same-origin request, since a browser sends cached basic credentials with a
 * cross-site form or `text/plain` POST too; and none at all when BULL_BOARD_READ_ONLY is set.
 */
export function boardGuard(config: Pick<AppConfig, 'adminToken' | 'bullBoardReadOnly'>) {
  const auth = boardAuth(config.adminToken);
  return (request: IncomingMessage, response: ServerResponse, next: () => void) =>
    auth(request, response, () => {
      if (SAFE_METHODS.includes(request.method ?? '')) return next();
      if (config.bullBoardReadOnly) {
        return refuse(response, 'Bull Board is read-only here (BULL_BOARD_READ_ONLY=true): it changes no job or queue.');
      }
      if (!sameOrigin(request)) {
        return refuse(response, 'Bull Board changes jobs and queues only for requests from its own pages (same origin).');
      }
      next();
    });
}

/** Bull Board's page asks Google for its fonts; ours makes no request to an outside host (it falls back to system fonts). */
const OUTSIDE_FONTS = /<link[^>]+fonts\.googleapis\.com[^>]*>\s*/g;

/** The Express adapter, with the page's outside font stylesheet taken out of the HTML it renders. */
export class LocalBoardAdapter extends ExpressAdapter {
  constructor() {
    super();
    this.app.use((_request: Request, response: Response, next: NextFunction) => {
      const render = response.render.bind(response);
      response.render = (view: string, options?: object) =>
        render(view, options ?? {}, (error: Error | null, html: string) => {
          if (error) return next(error);
          response.type('html').send(html.replace(OUTSIDE_FONTS, ''));
        });
      next();
    });
  }
}

/**
 * Bull Board at /admin/queues, showing the delivery queue in its two lanes, `webhooks` and `webhooks-backlog` (every
 * one with QUEUE_SHARDS, each named after its prefix).
 * Only `main.ts` imports it: @bull-board/nestjs is CommonJS and require()s the ESM-only Nest 12, which Node (>= 20.19)
 * allows but jest's module runtime does not, so the e2e suites check Bull Board on the real compiled service instead.
 */
@Module({
  imports: [
    BullBoardModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        route: '/admin/queues',
        // @bull-board/express pins an older @bull-board/api patch release: same shape, separate type declarations.
        adapter: LocalBoardAdapter as unknown as BullBoardModuleOptions['adapter'],
        middleware: boardGuard(config),
        boardOptions: { uiConfig: { boardTitle: 'agent-events' } },
      }),
    }),
  ],
})
export class QueueBoardModule implements OnModuleInit {
  constructor(
    @InjectBullBoard() private readonly board: { addQueue(adapter: BullMQAdapter): void },
    private readonly shards: QueueShards,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The delivery queues, read-only when BULL_BOARD_READ_ONLY says so (BullBoardModule.forFeature takes fixed options). */
  onModuleInit(): void {
    const { shards, queues } = this.shards;
    for (const queue of queues) {
      // The board tells queues apart by name: shards share the names `webhooks` and `webhooks-backlog`, so each shows
      // its prefix before it.
      const prefix = shards.length > 1 ? `${queue.opts.prefix}:` : '';
      this.board.addQueue(new BullMQAdapter(queue, { readOnlyMode: this.config.bullBoardReadOnly, prefix }));
    }
  }
}
