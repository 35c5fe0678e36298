import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Inject, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { ADMIN_REALM, adminAuthRequired, isAdminBasicAuth } from '../common/admin-basic-auth.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { QueueShards } from './queue-shards.js';

/** Where Bull Board answers. */
export const BOARD_ROUTE = '/admin/queues';

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

function refuse(reply: FastifyReply, httpStatus: number, body: { message: string; status: string }): FastifyReply {
  return reply.code(httpStatus).type('application/json; charset=utf-8').send(body);
}

/**
 * Bull Board's guard, a hook on its routes: basic auth (user `admin`, the admin token) for every route; a route that
 * changes something (anything but GET and HEAD) also needs a same-origin request, since a browser sends cached basic
 * credentials with a cross-site form or `text/plain` POST too; and none at all when BULL_BOARD_READ_ONLY is set.
 * A refusal is answered here, before the board's own routes and error handler see the request.
 */
export function boardGuard(config: Pick<AppConfig, 'adminToken' | 'bullBoardReadOnly'>) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (!isAdminBasicAuth(request.headers.authorization, config.adminToken)) {
      reply.header('WWW-Authenticate', ADMIN_REALM);
      return refuse(reply, 401, adminAuthRequired('Bull Board'));
    }
    if (SAFE_METHODS.includes(request.method)) return undefined;
    if (config.bullBoardReadOnly) {
      return refuse(reply, 403, {
        message: 'Bull Board is read-only here (BULL_BOARD_READ_ONLY=true): it changes no job or queue.',
        status: 'access_denied',
      });
    }
    if (!sameOrigin(request.raw)) {
      return refuse(reply, 403, {
        message: 'Bull Board changes jobs and queues only for requests from its own pages (same origin).',
        status: 'access_denied',
      });
    }
    return undefined;
  };
}

/** Bull Board's page asks Google for its fonts; ours makes no request to an outside host (it falls back to system fonts). */
const OUTSIDE_FONTS = /<link[^>]+fonts\.googleapis\.com[^>]*>\s*/g;

/**
 * The Fastify adapter, with `guard` on every route of the board, and the page's outside font stylesheet taken out of
 * the HTML it renders.
 */
export class LocalBoardAdapter extends FastifyAdapter {
  constructor(private readonly guard: ReturnType<typeof boardGuard>) {
    super();
  }

  override registerPlugin(): ReturnType<FastifyAdapter['registerPlugin']> {
    const plugin = super.registerPlugin();
    return (fastify, options, done) => {
      fastify.addHook('onRequest', this.guard);
      fastify.addHook('onSend', async (_request, reply, payload) =>
        typeof payload === 'string' && String(reply.getHeader('content-type')).startsWith('text/html')
          ? payload.replace(OUTSIDE_FONTS, '')
          : payload,
      );
      plugin(fastify, options, done);
    };
  }
}

/**
 * Bull Board at /admin/queues, showing the delivery queue in its two lanes, `webhooks` and `webhooks-backlog` (every
 * one with QUEUE_SHARDS, each named after its prefix), read-only when BULL_BOARD_READ_ONLY says so. Only `main.ts`
 * imports it; the e2e suites check Bull Board on the real compiled service.
 */
@Module({})
export class QueueBoardModule implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly shards: QueueShards,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Registers the board's routes on the API's server (before it starts: modules initialise first). */
  onModuleInit(): void {
    const board = new LocalBoardAdapter(boardGuard(this.config));
    board.setBasePath(BOARD_ROUTE);
    const { shards, queues } = this.shards;
    createBullBoard({
      // The board tells queues apart by name: shards share the names `webhooks` and `webhooks-backlog`, so each shows
      // its prefix before it.
      queues: queues.map(
        (queue) =>
          new BullMQAdapter(queue, {
            readOnlyMode: this.config.bullBoardReadOnly,
            prefix: shards.length > 1 ? `${queue.opts.prefix}:` : '',
          }),
      ),
      serverAdapter: board,
      options: { uiConfig: { boardTitle: 'agent-events' } },
    });
    const server = this.adapterHost.httpAdapter.getInstance() as FastifyInstance;
    void server.register(board.registerPlugin(), { prefix: BOARD_ROUTE });
  }
}
