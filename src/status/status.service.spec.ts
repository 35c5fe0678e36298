import type { DeliveryJob } from '../delivery-queue/delivery-job.js';
import type { DeliveryQueueService } from '../delivery-queue/delivery-queue.service.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { AppliedAgentRow, ChangeToApply, NewDeliveryRow, StatusChangesRepository } from './status-changes.repository.js';
import { StatusService } from './status.service.js';

/** A repository that applies changes to agents in memory, the way change_agents does, and records each call. */
class FakeRepository {
  calls: ChangeToApply[][] = [];
  agents = new Map<number, { status: 'available' | 'logged_out'; sequence: number; name: string }>();
  events = new Map<number, { eventType: string; url: string }[]>();
  private ids = 0;

  async apply(changes: ChangeToApply[]): Promise<{ agents: AppliedAgentRow[]; deliveries: NewDeliveryRow[] }> {
    this.calls.push(changes);
    const agents: AppliedAgentRow[] = [];
    const deliveries: NewDeliveryRow[] = [];
    changes.forEach((change, position) => {
      const agent = this.agents.get(change.agent);
      if (!agent) return;
      const changed = change.status !== undefined && change.status !== agent.status;
      if (changed) {
        agent.status = change.status!;
        agent.sequence++;
        for (const event of this.events.get(change.agent) ?? []) {
          if (event.eventType === change.event_type) deliveries.push({ position, id: `d${++this.ids}`, url: event.url });
        }
      }
      agents.push({
        position,
        id: change.agent,
        clientId: change.client,
        agentType: change.type,
        name: agent.name,
        agentStatus: agent.status,
        statusSequence: agent.sequence,
        changed: changed ? 1 : 0,
      });
    });
    return { agents, deliveries };
  }
}

describe('StatusService (the events domain service, with a fake repository and queue)', () => {
  let repository: FakeRepository;
  let enqueued: DeliveryJob[][];
  let service: StatusService;

  beforeEach(() => {
    repository = new FakeRepository();
    repository.agents.set(1, { status: 'logged_out', sequence: 0, name: '001' });
    repository.agents.set(2, { status: 'available', sequence: 4, name: '002' });
    repository.events.set(1, [
      { eventType: 'agent-login', url: 'https://hooks.example.com/in' },
      { eventType: 'agent-logout', url: 'https://hooks.example.com/out' },
    ]);
    enqueued = [];
    const queue = { enqueueAfterCommit: async (jobs: DeliveryJob[]) => void enqueued.push(jobs) };
    const metrics = { statusChanged: () => undefined };
    service = new StatusService(
      repository as unknown as StatusChangesRepository,
      queue as unknown as DeliveryQueueService,
      metrics as unknown as MetricsService,
    );
  });

  it('sends the event type it decided, and enqueues the committed deliveries of a real change', async () => {
    const result = await service.change({ clientId: 'c', agentType: 'local', agentId: 1, status: 'available', source: 'api' });
    expect(repository.calls[0][0]).toMatchObject({ agent: 1, status: 'available', event_type: 'agent-login', source: 'api' });
    expect(result).toMatchObject({ changed: true, agent: { id: 1, agentStatus: 'available', statusSequence: 1, extensionName: '001' } });
    expect(result.deliveries).toEqual([
      { deliveryId: 'd1', clientId: 'c', host: 'hooks.example.com', name: 'client c · local agent 1 · agent-login · hooks.example.com' },
    ]);
    expect(enqueued).toEqual([result.deliveries]);
  });

  it('writes and enqueues nothing when the status is the one the agent has', async () => {
    const result = await service.change({ clientId: 'c', agentType: 'local', agentId: 2, status: 'available', source: 'phone' });
    expect(result).toMatchObject({ changed: false, deliveries: [] });
    expect(enqueued.flat()).toEqual([]);
  });

  it('answers not found (no agent) for an agent the repository did not find', async () => {
    expect(await service.change({ clientId: 'c', agentType: 'local', agentId: 9, status: 'available', source: 'api' })).toEqual({
      changed: false,
      deliveries: [],
    });
  });

  it('puts two changes of one agent asked for at the same moment in two calls, in order, and each in agent id order', async () => {
    const results = await Promise.all([
      service.change({ clientId: 'c', agentType: 'local', agentId: 2, status: 'logged_out', source: 'api' }),
      service.change({ clientId: 'c', agentType: 'local', agentId: 1, status: 'available', source: 'api' }),
      service.change({ clientId: 'c', agentType: 'local', agentId: 1, status: 'logged_out', source: 'api' }),
    ]);
    expect(repository.calls.map((call) => call.map((change) => [change.agent, change.status]))).toEqual([
      [
        [1, 'available'],
        [2, 'logged_out'],
      ],
      [[1, 'logged_out']],
    ]);
    expect(results.map((result) => [result.agent?.agentStatus, result.agent?.statusSequence])).toEqual([
      ['logged_out', 5],
      ['available', 1],
      ['logged_out', 2],
    ]);
  });

  it('sends a rename alone, with no event type when no status is asked for', async () => {
    await Promise.all([
      service.change({ clientId: 'c', agentType: 'local', agentId: 1, name: '010', source: 'api' }),
      service.change({ clientId: 'c', agentType: 'local', agentId: 2, status: 'logged_out', source: 'api' }),
    ]);
    expect(repository.calls).toHaveLength(2);
    const rename = repository.calls.flat().find((change) => change.name === '010');
    expect(rename?.event_type).toBeUndefined();
  });
});
