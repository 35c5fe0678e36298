import { HttpStatus, type INestApplication, type NestApplicationOptions } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';
import { documentAgentTypes } from './common/api-errors.decorator.js';
import { ApiError } from './common/api-error.js';
import { ApiExceptionFilter } from './common/api-exception.filter.js';
import { API_PREFIX, type ArrivedRequest } from './common/http-platform.js';
import { requestBodies } from './common/request-body.js';
import { RouteTable } from './common/route-table.js';
import { ApiValidationPipe, VALIDATION_OPTIONS } from './common/validation.js';
import { BOARD_ROUTE } from './delivery-queue/queue-board.module.js';
import { AppLogger } from './logging/app-logger.js';
import { RequestLog } from './logging/logging.module.js';
import { HttpMetrics } from './metrics/http-metrics.js';

/** The one endpoint that also takes form and multipart bodies (RFC 6749), and parses those itself. */
export const FORM_PATHS = ['/oauth/token'];

/**
 * Options for `NestFactory.create` / `createNestApplication` (with `createHttpAdapter()`), with `configureApp` the
 * whole HTTP set-up of `main.ts`, the tests and the benchmarks: Nest's own body parsers (JSON and form) stay off,
 * and `configureApp` installs the ones the API reads.
 */
export const HTTP_APP_OPTIONS: NestApplicationOptions = { bodyParser: false };

/** Each configured app's table of routes (`routesOf`). */
const ROUTE_TABLES = new WeakMap<INestApplication, RouteTable>();

/** The routes an app configured by `configureApp` answers, as `METHOD url` (HEAD routes included). */
export function routesOf(app: INestApplication): string[] {
  return ROUTE_TABLES.get(app)?.list() ?? [];
}

/** Swagger UI and Bull Board load their scripts and styles from this origin; both use inline styles. */
const CONTENT_SECURITY_POLICY = {
  useDefaults: false,
  directives: {
    'default-src': ["'self'"],
    'base-uri': ["'self'"],
    'script-src': ["'self'"],
    'style-src': ["'self'", "'unsafe-inline'"],
    'font-src': ["'self'", 'data:'],
    'img-src': ["'self'", 'data:'],
    'connect-src': ["'self'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    'object-src': ["'none'"],
  },
};

/**
 * helmet's security headers for the pages people open in a browser (Swagger UI, Bull Board) and their assets, worked
 * out once: with a fixed policy they are the same for every response, and helmet's thirteen middleware functions per
 * request cost about 1.5 % of the API's CPU per status change.
 */
function helmetHeaders(): Map<string, string> {
  const headers = new Map<string, string>();
  const response = {
    setHeader: (name: string, value: unknown) => headers.set(name, String(value)),
    removeHeader: (name: string) => headers.delete(name),
  };
  let failure: unknown;
  (
    helmet({ contentSecurityPolicy: CONTENT_SECURITY_POLICY }) as (
      request: object,
      response: object,
      next: (error?: unknown) => void,
    ) => void
  )({}, response, (error) => (failure = error));
  if (failure !== undefined) throw failure;
  return headers;
}

/**
 * What every other answer (JSON, read by programs) carries, as OWASP's REST Security Cheat Sheet has it: a policy that
 * allows nothing and no framing, HTTPS only, no type sniffing. Helmet's other headers concern HTML documents; on every
 * status change's answer they were ~700 bytes more to write and for each client to parse (bench/README.md).
 */
function apiHeaders(pageHeaders: Map<string, string>): [string, string][] {
  return [
    ['Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'"],
    ['Strict-Transport-Security', pageHeaders.get('Strict-Transport-Security')!],
    ['X-Content-Type-Options', 'nosniff'],
    ['X-Frame-Options', 'DENY'],
  ];
}

/** Swagger UI (its page, assets and document) and Bull Board: the browser pages, which get helmet's whole set. */
const isPage = (url: string) => url.startsWith('/docs') || url.startsWith(BOARD_ROUTE);

/** Everything the HTTP app needs beyond its modules; shared by `main.ts`, the tests and the benchmarks. */
export function configureApp(app: INestApplication): INestApplication {
  const server = app.getHttpAdapter().getInstance() as FastifyInstance;
  const pageHeaders = helmetHeaders();
  const headersOf = { page: [...pageHeaders], api: apiHeaders(pageHeaders) };
  // Nest's own Logger calls (`new Logger(...)` everywhere) go out as pino's JSON lines.
  app.useLogger(app.get(AppLogger));
  const requestLog = app.get(RequestLog);
  const httpMetrics = app.get(HttpMetrics);
  const routes = new RouteTable(server);
  ROUTE_TABLES.set(app, routes);
  server.addHook('onRequest', (request, reply, done) => {
    // On the Node response, so that what does not go through `reply` (the router's own 400s aside) carries them too.
    for (const [name, value] of isPage(request.url) ? headersOf.page : headersOf.api) reply.raw.setHeader(name, value);
    reply.header('X-Request-Id', request.id);
    if (!request.is404) return done();
    // No route has this method on this path: a 405 with `Allow` when another method has it.
    const methods = routes.methodsOf(request.url);
    if (methods.size === 0) return done();
    const allow = [...methods].join(', ');
    if (request.method === 'OPTIONS') return void reply.code(204).header('Allow', allow).send();
    reply.header('Allow', allow);
    done(new ApiError(HttpStatus.METHOD_NOT_ALLOWED, 'method_not_allowed', `${request.method} is not allowed here; use ${allow}.`));
  });
  server.addHook('onResponse', (request, reply, done) => {
    httpMetrics.observe(request.method, request.routeOptions.url, reply.statusCode, reply.elapsedTime / 1000);
    requestLog.answered({
      id: request.id,
      method: request.method,
      url: (request.raw as ArrivedRequest).originalUrl ?? request.url,
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime),
    });
    done();
  });
  requestBodies(server, FORM_PATHS);
  app.useGlobalFilters(new ApiExceptionFilter());
  app.useGlobalPipes(new ApiValidationPipe(VALIDATION_OPTIONS));
  app.enableShutdownHooks();
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('agent-events')
      .setDescription(
        'Webhooks on queue agents: when an agent really logs in to or out of the queue (from the API or its own phone), ' +
          "every matching agent event receives the agent's new status, form-urlencoded, with retries until it gets there. " +
          `Every path also answers under \`${API_PREFIX}\`. Errors are \`{"message", "status"}\`.`,
      )
      .setVersion('1.0')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        description: "ADMIN_TOKEN, PBX_TOKEN (phone commands only), or a client application's access_token",
      })
      .addOAuth2(
        {
          type: 'oauth2',
          description: "A client application's id and secret (POST /client/{client_id}/app/), exchanged for a token",
          flows: { clientCredentials: { tokenUrl: '/oauth/token', scopes: {} } },
        },
        'oauth2',
      )
      .build(),
  );
  // Wherever a bearer token is accepted, a client application's token fetched by Swagger UI's Authorize dialog is too.
  for (const operations of Object.values(document.paths)) {
    for (const operation of Object.values(operations) as { security?: Record<string, string[]>[] }[]) {
      // A new array: operations of one controller share theirs.
      if (operation?.security?.some((requirement) => 'bearer' in requirement)) operation.security = [...operation.security, { oauth2: [] }];
    }
  }
  documentAgentTypes(document);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', swaggerOptions: { persistAuthorization: true } });
  return app;
}
