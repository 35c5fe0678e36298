import { PRIORITY_LIMIT, priorityOfTurn } from './fair-shares.js';

describe('priorityOfTurn', () => {
  it('is the turn itself, a lower one going first', () => {
    expect([1, 2, 3, 10_000].map(priorityOfTurn)).toEqual([1, 2, 3, 10_000]);
  });

  it("stays within BullMQ's priorities (1 to 2^21 - 1)", () => {
    expect(priorityOfTurn(0)).toBe(1);
    expect(priorityOfTurn(-5)).toBe(1);
    expect(priorityOfTurn(PRIORITY_LIMIT + 1)).toBe(PRIORITY_LIMIT);
  });
});
