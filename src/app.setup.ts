import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { NextFunction, Request, Response } from 'express';
import { ApiExceptionFilter } from './common/api-exception.filter.js';
import { ApiValidationPipe, VALIDATION_OPTIONS } from './common/validation.js';

/** Existing clients of the public API call `{base}/api/ver1.0/...`: every resource answers there too. */
export const API_PREFIX = '/api/ver1.0';

/** Everything the HTTP app needs beyond its modules; shared by `main.ts`, the tests and the benchmarks. */
export function configureApp(app: INestApplication): INestApplication {
  // Nest's own Logger calls (`new Logger(...)` everywhere) go out as pino's JSON lines.
  app.useLogger(app.get(Logger));
  app.use((request: Request, _response: Response, next: NextFunction) => {
    if (request.url === API_PREFIX || request.url.startsWith(`${API_PREFIX}/`) || request.url.startsWith(`${API_PREFIX}?`)) {
      request.url = request.url.slice(API_PREFIX.length) || '/';
    }
    next();
  });
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
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, PBX_TOKEN (phone commands only)' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', swaggerOptions: { persistAuthorization: true } });
  return app;
}
