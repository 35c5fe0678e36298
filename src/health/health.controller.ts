import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../common/access.decorator.js';
import { HealthChecks } from './health-checks.service.js';

const READY = { status: 200, schema: { example: { status: 'ok', mysql: 'up', redis: 'up' } } };
const UNAVAILABLE = { status: 503, schema: { example: { message: 'redis is not answering', status: 'unavailable' } } };

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly checks: HealthChecks) {}

  @Get()
  @Public()
  @ApiOperation({ summary: 'Readiness: 200 when MySQL and Redis answer, 503 naming the one that does not' })
  @ApiResponse(READY)
  @ApiResponse(UNAVAILABLE)
  check(): Promise<Record<string, string>> {
    return this.checks.ready();
  }

  @Get('live')
  @Public()
  @ApiOperation({ summary: 'Liveness: 200 while the process answers HTTP (restart it when this fails)' })
  @ApiResponse({ status: 200, schema: { example: { status: 'ok' } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @Public()
  @ApiOperation({ summary: 'Readiness for a load balancer: 200 when MySQL and Redis answer, 503 naming the one that does not' })
  @ApiResponse(READY)
  @ApiResponse(UNAVAILABLE)
  ready(): Promise<Record<string, string>> {
    return this.checks.ready();
  }
}
