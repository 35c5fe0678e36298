import type { INestApplication, NestApplicationOptions } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Application, NextFunction, Request, Response } from 'express';
import helmet from 'helmet';
import { documentAgentTypes } from './common/api-errors.decorator.js';
import { ApiExceptionFilter } from './common/api-exception.filter.js';
import { requestBodies } from './common/request-body.middleware.js';
import { ApiValidationPipe, VALIDATION_OPTIONS } from './common/validation.js';
import { AppLogger } from './logging/app-logger.js';
import { HttpMetricsMiddleware } from './metrics/http-metrics.middleware.js';

/** Existing clients of the public API call `{base}/api/ver1.0/...`: every resource answers there too. */
export const API_PREFIX = '/api/ver1.0';

/** The one endpoint that also takes form and multipart bodies (RFC 6749), and parses those itself. */
export const FORM_PATHS = ['/oauth/token'];

/**
 * Options for `NestFactory.create` / `createNestApplication`, with `configureApp` the whole HTTP set-up of
 * `main.ts`, the tests and the benchmarks: Nest's own body parsers (JSON and form) stay off, and
 * `configureApp` installs the one that reads JSON only.
 */
export const HTTP_APP_OPTIONS: NestApplicationOptions = { bodyParser: false };

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

/** Everything the HTTP app needs beyond its modules; shared by `main.ts`, the tests and the benchmarks. */
export function configureApp(app: INestApplication): INestApplication {
  const server = app.getHttpAdapter().getInstance() as Application;
  server.disable('x-powered-by');
  app.use(helmet({ contentSecurityPolicy: CONTENT_SECURITY_POLICY }));
  // Nest's own Logger calls (`new Logger(...)` everywhere) go out as pino's JSON lines.
  app.useLogger(app.get(AppLogger));
  const httpMetrics = app.get(HttpMetricsMiddleware);
  app.use((request: Request, response: Response, next: NextFunction) => httpMetrics.use(request, response, next));
  app.use((request: Request, _response: Response, next: NextFunction) => {
    if (request.url === API_PREFIX || request.url.startsWith(`${API_PREFIX}/`) || request.url.startsWith(`${API_PREFIX}?`)) {
      request.url = `/${request.url.slice(API_PREFIX.length).replace(/^\//, '')}`;
    }
    next();
  });
  app.use(requestBodies(server, FORM_PATHS));
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
