import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { Client } from './entities/client.entity.js';

/** What a new client is stored with; the rest is left to the table's defaults. */
export type NewClient = Pick<
  Client,
  'id' | 'name' | 'agentEventLimit' | 'agentEventCount' | 'signingSecret' | 'previousSigningSecret' | 'secretRotatedAt'
>;

/** Every statement on `clients`. Methods that take an `EntityManager` run in the caller's transaction. */
@Injectable()
export class ClientsRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Inserts the client; an id already taken fails with the driver's duplicate-key error (see `isDuplicateKey`). */
  async insert(values: NewClient): Promise<Client> {
    const client = this.dataSource.getRepository(Client).create(values);
    await this.dataSource.getRepository(Client).insert(client);
    return client;
  }

  /** The client or null; `lock` holds its row until the transaction ends. */
  async find(clientId: string, manager: EntityManager = this.dataSource.manager, lock = false): Promise<Client | null> {
    return manager.getRepository(Client).findOne({
      where: { id: clientId },
      ...(lock ? { lock: { mode: 'pessimistic_write' as const } } : {}),
    });
  }

  /**
   * Holds the client's row until the caller's transaction ends. Writers of agent events lock the agent, then the
   * client, then the agent events: a delete that locked agent-event rows (and the gaps between them) before the
   * client would deadlock with a create that holds the client and inserts into such a gap.
   */
  async lock(manager: EntityManager, clientId: string): Promise<void> {
    await manager.query('SELECT id FROM clients WHERE id = ? FOR UPDATE', [clientId]);
  }

  /**
   * Counts one new agent event unless the client is at its limit: false (and nothing changed) when it is, or when
   * there is no such client. One conditional UPDATE both checks the limit and counts the new event; its row lock
   * serialises the creates of one client, so concurrent creates cannot pass the limit together.
   */
  async countAgentEvent(manager: EntityManager, clientId: string): Promise<boolean> {
    const counted = (await manager.query(
      'UPDATE clients SET agent_event_count = agent_event_count + 1 WHERE id = ? AND agent_event_count < agent_event_limit',
      [clientId],
    )) as { affectedRows: number };
    return counted.affectedRows === 1;
  }

  /** Adds `delta` to the client's count of agent events, inside the caller's transaction. */
  async addAgentEvents(manager: EntityManager, clientId: string, delta: number): Promise<void> {
    if (delta !== 0) await manager.query('UPDATE clients SET agent_event_count = agent_event_count + ? WHERE id = ?', [delta, clientId]);
  }

  /**
   * Sets the client's agent event limit and, unless `rateLimitPerHour` is undefined, its requests per hour (null:
   * the default), in one statement; false when there is no such client.
   */
  async setLimits(manager: EntityManager, clientId: string, agentEventLimit: number, rateLimitPerHour?: number | null): Promise<boolean> {
    const updated = (await manager.query(
      `UPDATE clients SET agent_event_limit = ?${rateLimitPerHour !== undefined ? ', rate_limit_per_hour = ?' : ''} WHERE id = ?`,
      [agentEventLimit, ...(rateLimitPerHour !== undefined ? [rateLimitPerHour] : []), clientId],
    )) as { affectedRows: number };
    return updated.affectedRows !== 0;
  }

  /** The client's own requests per hour: null when it has none (the default applies) or there is no such client. */
  async rateLimitPerHour(clientId: string): Promise<number | null> {
    const row = await this.dataSource
      .getRepository(Client)
      .findOne({ where: { id: clientId }, select: { id: true, rateLimitPerHour: true } });
    return row?.rateLimitPerHour ?? null;
  }

  /** Writes the changed columns of a client read by `find`, inside the caller's transaction. */
  async save(manager: EntityManager, client: Client): Promise<void> {
    await manager.save(client);
  }
}
