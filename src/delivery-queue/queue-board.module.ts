import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { BullBoardModule, type BullBoardModuleOptions } from '@bull-board/nestjs';
import { Module } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { adminBasicAuth } from '../common/admin-basic-auth.js';
import { APP_CONFIG, type AppConfig } from '../config/configuration.js';
import { WEBHOOK_QUEUE } from './queue.constants.js';

/** Basic auth for Bull Board: user `admin`, password the admin token. */
export const boardAuth = (adminToken: string) => adminBasicAuth(adminToken, 'Bull Board');

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
 * Bull Board at /admin/queues, showing the delivery queue. Only `main.ts` imports it: @bull-board/nestjs is
 * CommonJS and require()s the ESM-only Nest 12, which Node (>= 20.19) allows but jest's module runtime does not,
 * so the e2e suites check Bull Board on the real compiled service instead.
 */
@Module({
  imports: [
    BullBoardModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        route: '/admin/queues',
        // @bull-board/express pins an older @bull-board/api patch release: same shape, separate type declarations.
        adapter: LocalBoardAdapter as unknown as BullBoardModuleOptions['adapter'],
        middleware: boardAuth(config.adminToken),
        boardOptions: { uiConfig: { boardTitle: 'agent-events' } },
      }),
    }),
    BullBoardModule.forFeature({ name: WEBHOOK_QUEUE, adapter: BullMQAdapter, options: { readOnlyMode: false } }),
  ],
})
export class QueueBoardModule {}
