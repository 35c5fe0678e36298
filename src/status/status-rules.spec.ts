import fc from 'fast-check';
import { AGENT_STATUSES, type AgentStatus } from './agent-state.js';
import { agentEventPayload, eventTypeFor, isRealChange, planRounds, subscriptionsFor, type EventType } from './status-rules.js';

describe('isRealChange', () => {
  it.each<[AgentStatus, AgentStatus | undefined, boolean]>([
    ['available', undefined, false],
    ['logged_out', undefined, false],
    ['available', 'available', false],
    ['logged_out', 'logged_out', false],
    ['available', 'logged_out', true],
    ['logged_out', 'available', true],
  ])('current %s, requested %s: %s', (current, requested, expected) => {
    expect(isRealChange(current, requested)).toBe(expected);
  });

  it('covers every status there is', () => {
    // If a status is added, the table above must grow with it.
    expect([...AGENT_STATUSES].sort()).toEqual(['available', 'logged_out']);
  });
});

describe('eventTypeFor', () => {
  it('maps available to agent-login and logged_out to agent-logout', () => {
    expect(eventTypeFor('available')).toBe('agent-login');
    expect(eventTypeFor('logged_out')).toBe('agent-logout');
  });
});

describe('subscriptionsFor', () => {
  const subscriptions: { id: number; eventType: EventType }[] = [
    { id: 1, eventType: 'agent-login' },
    { id: 2, eventType: 'agent-logout' },
    { id: 3, eventType: 'agent-login' },
    { id: 4, eventType: 'agent-logout' },
  ];

  it("keeps only the subscriptions of the change's event type, in their order", () => {
    expect(subscriptionsFor('available', subscriptions).map(({ id }) => id)).toEqual([1, 3]);
    expect(subscriptionsFor('logged_out', subscriptions).map(({ id }) => id)).toEqual([2, 4]);
  });

  it('returns the same objects, and nothing when no subscription matches', () => {
    expect(subscriptionsFor('available', subscriptions)[0]).toBe(subscriptions[0]);
    expect(subscriptionsFor('available', [{ eventType: 'agent-logout' as const }])).toEqual([]);
    expect(subscriptionsFor('logged_out', [])).toEqual([]);
  });

  it('does not change the list it is given', () => {
    const copy = subscriptions.map((subscription) => ({ ...subscription }));
    subscriptionsFor('available', subscriptions);
    expect(subscriptions).toEqual(copy);
  });
});

describe('agentEventPayload', () => {
  it("builds a local agent's payload with extension_name, keys in the spec's order", () => {
    const payload = agentEventPayload({ agentStatus: 'available', agentType: 'local', eventSource: 'api', agentId: 42, agentName: '1001' });
    expect(Object.keys(payload)).toEqual(['agent_status', 'agent_type', 'event_source', 'agent_id', 'extension_name']);
    expect(payload).toEqual({
      agent_status: 'available',
      agent_type: 'local',
      event_source: 'api',
      agent_id: '42',
      extension_name: '1001',
    });
  });

  it("builds a remote agent's payload with agent_number, keys in the spec's order", () => {
    const payload = agentEventPayload({
      agentStatus: 'logged_out',
      agentType: 'remote',
      eventSource: 'phone',
      agentId: 7,
      agentName: '+15551234567',
    });
    expect(Object.keys(payload)).toEqual(['agent_status', 'agent_type', 'event_source', 'agent_id', 'agent_number']);
    expect(payload).toEqual({
      agent_status: 'logged_out',
      agent_type: 'remote',
      event_source: 'phone',
      agent_id: '7',
      agent_number: '+15551234567',
    });
  });

  it('sends a missing name as an empty string', () => {
    const local = agentEventPayload({ agentStatus: 'available', agentType: 'local', eventSource: 'api', agentId: 1, agentName: null });
    const remote = agentEventPayload({ agentStatus: 'available', agentType: 'remote', eventSource: 'api', agentId: 1, agentName: null });
    expect(local.extension_name).toBe('');
    expect(remote.agent_number).toBe('');
    expect(local).not.toHaveProperty('agent_number');
    expect(remote).not.toHaveProperty('extension_name');
  });

  it('sends agent_id as a decimal string, and every value as a string', () => {
    const payload = agentEventPayload({
      agentStatus: 'available',
      agentType: 'local',
      eventSource: 'phone',
      agentId: 4294967295,
      agentName: '',
    });
    expect(payload.agent_id).toBe('4294967295');
    for (const value of Object.values(payload)) expect(typeof value).toBe('string');
  });
});

describe('planRounds', () => {
  const plan = (agentIds: number[]) => planRounds(agentIds.map((agentId) => ({ agentId })));
  const agentsOf = (agentIds: number[], rounds: number[][]) => rounds.map((round) => round.map((index) => agentIds[index]));

  it('plans nothing for no changes', () => {
    expect(plan([])).toEqual([]);
  });

  it('puts changes of different agents in one round, in agent id order', () => {
    expect(plan([30, 10, 20])).toEqual([[1, 2, 0]]);
  });

  it("puts an agent's second change in a later round, after its first", () => {
    const agentIds = [5, 3, 5, 1, 5, 3];
    const rounds = plan(agentIds);
    expect(rounds).toEqual([[3, 1, 0], [5, 2], [4]]);
    expect(agentsOf(agentIds, rounds)).toEqual([[1, 3, 5], [3, 5], [5]]);
  });

  it('makes one round per change when every change is of the same agent, in the order asked', () => {
    expect(plan([9, 9, 9])).toEqual([[0], [1], [2]]);
  });

  it('holds for any batch: every index once, an agent at most once per round, rounds in agent id order, changes of an agent in order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 60 }), (agentIds) => {
        const rounds = plan(agentIds);
        // Every index exactly once.
        expect(rounds.flat().sort((a, b) => a - b)).toEqual(agentIds.map((_, index) => index));
        // No empty round, as few rounds as the most frequent agent needs.
        const counts = new Map<number, number>();
        for (const id of agentIds) counts.set(id, (counts.get(id) ?? 0) + 1);
        expect(rounds.length).toBe(Math.max(0, ...counts.values()));
        for (const round of rounds) {
          expect(round.length).toBeGreaterThan(0);
          const ids = round.map((index) => agentIds[index]);
          // Strictly increasing: an agent at most once, in agent id order.
          for (let i = 1; i < ids.length; i++) expect(ids[i]).toBeGreaterThan(ids[i - 1]);
        }
        // The k-th change of an agent (in the order asked) goes in round k.
        const seen = new Map<number, number>();
        const roundOf = new Map<number, number>();
        rounds.forEach((round, r) => round.forEach((index) => roundOf.set(index, r)));
        agentIds.forEach((id, index) => {
          const k = seen.get(id) ?? 0;
          seen.set(id, k + 1);
          expect(roundOf.get(index)).toBe(k);
        });
      }),
      { numRuns: 500 },
    );
  });
});
