import { TypeOrmModule } from '@nestjs/typeorm';
import { Module } from '@nestjs/common';
import { Client } from './entities/client.entity.js';
import { ClientsController } from './clients.controller.js';
import { ClientsRepository } from './clients.repository.js';
import { ClientsService } from './clients.service.js';
import { SigningSecretsController } from './signing-secrets.controller.js';
import { SigningSecretsService } from './signing-secrets.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([Client])],
  controllers: [ClientsController, SigningSecretsController],
  providers: [ClientsRepository, ClientsService, SigningSecretsService],
  exports: [ClientsRepository, ClientsService, SigningSecretsService],
})
export class ClientsModule {}
