import { Module } from '@nestjs/common';
import { ClientsController } from './clients.controller.js';
import { ClientsService } from './clients.service.js';
import { SigningSecretsController } from './signing-secrets.controller.js';
import { SigningSecretsService } from './signing-secrets.service.js';

@Module({
  controllers: [ClientsController, SigningSecretsController],
  providers: [ClientsService, SigningSecretsService],
  exports: [ClientsService, SigningSecretsService],
})
export class ClientsModule {}
