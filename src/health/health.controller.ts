import { Controller, Get, HttpStatus } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Public } from '../auth/access.decorator.js';
import { ApiError } from '../common/api-error.js';
import { RedisHealthClient } from '../queue/redis.provider.js';

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error('timeout')), ms).unref())]);
}

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly redis: RedisHealthClient,
  ) {}

  @Get()
  @Public()
  @ApiOperation({ summary: 'Readiness: 200 when MySQL and Redis answer, 503 naming the one that does not' })
  @ApiResponse({ status: 200, schema: { example: { status: 'ok', mysql: 'up', redis: 'up' } } })
  @ApiResponse({ status: 503, schema: { example: { message: 'redis is not answering', status: 'unavailable' } } })
  async check(): Promise<{ status: 'ok'; mysql: 'up'; redis: 'up' }> {
    const [mysql, redis] = await Promise.allSettled([within(this.dataSource.query('SELECT 1'), 2000), within(this.redis.ping(), 2000)]);
    const down = [mysql.status === 'rejected' ? 'mysql' : '', redis.status === 'rejected' ? 'redis' : ''].filter(Boolean);
    if (down.length)
      throw new ApiError(
        HttpStatus.SERVICE_UNAVAILABLE,
        'unavailable',
        `${down.join(' and ')} ${down.length > 1 ? 'are' : 'is'} not answering`,
      );
    return { status: 'ok', mysql: 'up', redis: 'up' };
  }
}
