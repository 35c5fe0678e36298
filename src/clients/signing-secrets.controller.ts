import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Access } from '../common/access.decorator.js';
import { ApiErrors } from '../common/api-errors.decorator.js';
import { ClientIdPipe } from '../common/id-params.js';
import { CLIENT_ERRORS } from './clients.errors.js';
import { SigningSecretsService, type SigningSecretView } from './signing-secrets.service.js';

const EXAMPLE = { signing_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', previous_signing_secret: null, previous_valid_until: null };

@ApiTags('clients')
@ApiBearerAuth()
@Access('admin', 'client')
@Controller('client/:client_id/signing-secret')
export class SigningSecretsController {
  constructor(private readonly secrets: SigningSecretsService) {}

  @Get()
  @ApiOperation({ summary: 'The secret that signs webhooks (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)' })
  @ApiOkResponse({ schema: { example: EXAMPLE } })
  @ApiErrors(...CLIENT_ERRORS.getSigningSecret)
  get(@Param('client_id', ClientIdPipe) clientId: string): Promise<SigningSecretView> {
    return this.secrets.get(clientId);
  }

  @Post('rotate')
  @HttpCode(200)
  @ApiOperation({ summary: 'Make a new signing secret; for 24 hours both sign (two signatures in webhook-signature)' })
  @ApiOkResponse({ schema: { example: EXAMPLE } })
  @ApiErrors(...CLIENT_ERRORS.rotateSigningSecret)
  rotate(@Param('client_id', ClientIdPipe) clientId: string): Promise<SigningSecretView> {
    return this.secrets.rotate(clientId);
  }
}
