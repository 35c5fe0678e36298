import { Body, Controller, Header, Headers, HttpCode, Post, UseInterceptors } from '@nestjs/common';
import { NoFilesInterceptor } from '@nestjs/platform-express';
import { ApiBody, ApiConsumes, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { TOKEN_ERRORS } from './auth.errors.js';
import { Public } from '../common/access.decorator.js';
import { ClientTokensService } from './client-tokens.service.js';
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
  // multipart/form-data (PHP's curl with an array); form-urlencoded is parsed by AuthModule's route middleware.
  @UseInterceptors(NoFilesInterceptor({ limits: { fields: 16, fieldSize: 1024, parts: 16 } }))
  @ApiOperation({
    summary: 'An access token for an application (OAuth2 client credentials)',
    description: 'Credentials in the body or in HTTP Basic. Also answers under /api/ver1.0.',
  })
  @ApiConsumes('application/x-www-form-urlencoded', 'multipart/form-data', 'application/json')
  @ApiBody({ type: TokenRequestDto })
  @ApiOkResponse({ type: TokenResponseDto })
  @ApiErrors(...TOKEN_ERRORS)
  issue(@Body() body: unknown, @Headers('authorization') authorization?: string): Promise<TokenResponseDto> {
    return this.tokens.issue(readTokenRequest(body, authorization));
  }
}
