import { Logger } from '@nestjs/common';
import type { QueueShards } from '../delivery-queue/queue-shards.js';
import { MetricsService } from './metrics.service.js';

/**
 * Queues whose Redis never answers, or that answer with these counts and these worker processes per lane ([first,
 * backlog], one each unless given), one entry per shard.
 */
const queue = (...counts: { waiting?: number; delayed?: number; active?: number; workers?: [number, number] }[]) => {
  const shards = (counts.length ? counts : [undefined]).map((shard) => {
    const answer = <T>(value: T) => (shard ? Promise.resolve(value) : new Promise<T>(() => undefined));
    return {
      getJobCounts: () => answer(shard),
      lane: (lane: string) => ({ getWorkersCount: () => answer(shard?.workers?.[lane === 'first' ? 0 : 1] ?? 1) }),
    };
  });
  return { queues: shards, shards } as unknown as QueueShards;
};

describe('MetricsService', () => {
  // An attempt is also a log line, which Nest's console logger would print into the test run.
  beforeAll(() => Logger.overrideLogger(false));

  it("shows each host's breaker state as 0 closed, 1 half-open, 2 open", async () => {
    const metrics = new MetricsService(queue({ waiting: 0, delayed: 0, active: 0 }));
    metrics.setBreakerState('hangs.example:443', 'open');
    metrics.setBreakerState('fine.example', 'closed');
    metrics.setBreakerState('probe.example', 'half_open');
    const page = await metrics.registry.metrics();
    expect(page).toContain('agent_events_breaker_state{host="hangs.example:443"} 2');
    expect(page).toContain('agent_events_breaker_state{host="fine.example"} 0');
    expect(page).toContain('agent_events_breaker_state{host="probe.example"} 1');
  });

  it('counts the queue at each scrape, every shard of it', async () => {
    const page = await new MetricsService(
      queue({ waiting: 5, delayed: 3, active: 60 }, { waiting: 2, delayed: 0, active: 4 }),
    ).registry.metrics();
    expect(page).toContain('agent_events_queue_jobs{state="waiting"} 7');
    expect(page).toContain('agent_events_queue_jobs{state="delayed"} 3');
    expect(page).toContain('agent_events_queue_jobs{state="active"} 64');
  });

  it("counts each lane's worker processes as the fewest of any shard: a lane one shard lacks shows 0", async () => {
    const page = await new MetricsService(queue({ workers: [2, 1] }, { workers: [1, 0] })).registry.metrics();
    expect(page).toContain('agent_events_queue_workers{lane="first"} 1');
    expect(page).toContain('agent_events_queue_workers{lane="backlog"} 0');
  });

  it('answers a scrape while Redis does not, leaving the queue depth and its workers out', async () => {
    const page = await new MetricsService(queue()).registry.metrics();
    expect(page).toContain('# TYPE agent_events_queue_jobs gauge');
    expect(page).not.toContain('agent_events_queue_jobs{');
    expect(page).not.toContain('agent_events_queue_workers{');
  });

  it('observes the change-to-receipt latency only for a 2xx, and the attempt duration for every outcome', async () => {
    const metrics = new MetricsService(queue({}));
    const changedAt = new Date(Date.now() - 1500);
    const attempt = { deliveryId: 'msg_1', url: 'https://a.example/hook?key=k', statusCode: 200, durationMs: 40, changedAt };
    metrics.deliveryAttempted({ ...attempt, outcome: 'succeeded' });
    metrics.deliveryAttempted({ ...attempt, statusCode: 500, outcome: 'retry' });
    const page = await metrics.registry.metrics();
    expect(page).toContain('agent_events_change_to_receipt_seconds_count 1');
    expect(page).toContain('agent_events_change_to_receipt_seconds_bucket{le="1"} 0');
    expect(page).toContain('agent_events_change_to_receipt_seconds_bucket{le="2.5"} 1');
    expect(page).toContain('agent_events_delivery_attempts_total{outcome="retry"} 1');
    expect(page).toContain('agent_events_delivery_attempt_duration_seconds_count{outcome="succeeded"} 1');
  });
});
