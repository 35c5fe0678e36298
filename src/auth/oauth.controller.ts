import { Body, Controller, Header, Headers, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { TOKEN_ERRORS } from './auth.errors.js';
import { Public } from '../common/access.decorator.js';
import { ClientTokensService, TokenRequestsThrottled } from './client-tokens.service.js';
import { TokenRequestDto, TokenResponseDto } from './dto/token.dto.js';
import { readTokenRequest } from './token-request.js';

@ApiTags('oauth')
@Public()
@Controller('oauth')
export class OAuthController {
  constructor(private readonly tokens: ClientTokensService) {}

  @Post('token')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @Header('Pragma', 'no-cache')
  // Its form-urlencoded and multipart/form-data (PHP's curl with an array) bodies are read by `requestBodies`.
  @ApiOperation({
    summary: 'An access token for an application (OAuth2 client credentials)',
    description:
      'Credentials in the body or in HTTP Basic. Also answers under /api/ver1.0. Failed requests are counted per client_id ' +
      'and per source address (TOKEN_FAILURES_PER_APPLICATION, TOKEN_FAILURES_PER_ADDRESS in 15 minutes); past either, ' +
      '429 `rate_limit_exceeded` with `Retry-After` until the window ends.',
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'multipart/form-data', 'application/json')
  @ApiBody({ type: TokenRequestDto })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiErrors(...TOKEN_ERRORS)
  async issue(
    @Body() body: unknown,
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) response: FastifyReply,
    @Headers('authorization') authorization?: string,
  ): Promise<TokenResponseDto> {
    try {
      // The peer's own address: no proxy's X-Forwarded-For is trusted, so a client cannot pick what it is counted as.
      return await this.tokens.issue(readTokenRequest(body, authorization), request.socket.remoteAddress);
    } catch (error) {
      if (error instanceof TokenRequestsThrottled) response.header('Retry-After', error.retryAfterSeconds);
      throw error;
    }
  }
}
