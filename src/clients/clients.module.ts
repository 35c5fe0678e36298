import { Module } from '@nestjs/common';
import { ClientsController } from './clients.controller.js';
import { ClientsRepository } from './clients.repository.js';
import { ClientsService } from './clients.service.js';
import { SigningSecretsController } from './signing-secrets.controller.js';
import { SigningSecretsService } from './signing-secrets.service.js';

@Module({
  controllers: [ClientsController, SigningSecretsController],
  providers: [ClientsRepository, ClientsService, SigningSecretsService],
  exports: [ClientsRepository, ClientsService, SigningSecretsService],
})
export class ClientsModule {}
