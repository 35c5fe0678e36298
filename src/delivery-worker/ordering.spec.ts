import { ORDER_WAIT_MS, orderDecision } from './ordering.js';

const now = new Date('2026-12-02T12:00:00.000Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
const HOLD = 60_000;

describe('orderDecision', () => {
  it('sends a delivery with no older one pending and no newer one sent', () => {
    expect(orderDecision({ newerSent: false, older: null }, now, HOLD)).toEqual({ kind: 'send' });
  });

  it('supersedes a delivery that a newer one has gone out before, whatever else is pending', () => {
    expect(orderDecision({ newerSent: true, older: null }, now, HOLD)).toEqual({ kind: 'superseded' });
    expect(orderDecision({ newerSent: true, older: { id: 'a', createdAt: ago(10), nextAttemptAt: null } }, now, HOLD)).toEqual({
      kind: 'superseded',
    });
  });

  it('waits for an older pending delivery, looking again after the longest wait at most (it is woken when the older is through)', () => {
    const decision = orderDecision({ newerSent: false, older: { id: 'a', createdAt: ago(1000), nextAttemptAt: null } }, now, HOLD);
    expect(decision).toEqual({ kind: 'wait', olderId: 'a', delayMs: ORDER_WAIT_MS.max });
  });

  it('looks again when the hold ends, if that is sooner', () => {
    const decision = orderDecision({ newerSent: false, older: { id: 'a', createdAt: ago(HOLD - 100), nextAttemptAt: null } }, now, HOLD);
    expect(decision).toEqual({ kind: 'wait', olderId: 'a', delayMs: 100 + ORDER_WAIT_MS.min });
  });

  it('lets an older delivery pending for the whole hold give way, with every other older one created before the hold', () => {
    expect(orderDecision({ newerSent: false, older: { id: 'a', createdAt: ago(HOLD), nextAttemptAt: null } }, now, HOLD)).toEqual({
      kind: 'supersede-older',
      olderId: 'a',
      createdBefore: ago(HOLD),
    });
  });

  it('with no hold at all, never waits', () => {
    expect(orderDecision({ newerSent: false, older: { id: 'a', createdAt: now, nextAttemptAt: null } }, now, 0).kind).toBe(
      'supersede-older',
    );
  });
});
