import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { Application } from './entities/application.entity.js';

/** Every statement on `applications`. */
@Injectable()
export class ApplicationsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(values: Pick<Application, 'id' | 'clientId' | 'name' | 'secretHash' | 'createdAt'>): Promise<Application> {
    const application = this.dataSource.getRepository(Application).create(values);
    await this.dataSource.getRepository(Application).insert(application);
    return application;
  }

  /** The client's applications, oldest first. */
  async listForClient(clientId: string): Promise<Application[]> {
    return this.dataSource.getRepository(Application).find({ where: { clientId }, order: { createdAt: 'ASC', id: 'ASC' } });
  }

  /** Deletes the application if it belongs to the client; how many rows went (0 or 1). */
  async delete(clientId: string, applicationId: string): Promise<number> {
    const result = await this.dataSource.getRepository(Application).delete({ id: applicationId, clientId });
    return result.affected ?? 0;
  }

  /** What token issuing and checking read of an application, or null when there is none. */
  async findCredentials(applicationId: string): Promise<Pick<Application, 'id' | 'clientId' | 'secretHash'> | null> {
    return this.dataSource.getRepository(Application).findOne({
      where: { id: applicationId },
      select: { id: true, clientId: true, secretHash: true },
    });
  }
}
