import { BUSY, loopBusy, nextConcurrency, SPARE } from './adaptive-concurrency.js';

const bounds = { min: 32, max: 64 };

describe('nextConcurrency', () => {
  it('gives up a quarter of the jobs in flight while the event loop is busy all the time, down to the minimum', () => {
    const limits = [64];
    for (let i = 0; i < 5; i++) limits.push(nextConcurrency(limits[limits.length - 1], { utilization: 0.99, full: true }, bounds));
    expect(limits).toEqual([64, 48, 36, 32, 32, 32]);
    expect(nextConcurrency(64, { utilization: BUSY, full: true }, bounds)).toBe(48);
  });

  it('takes a tenth more while the loop has time to spare and the jobs reached the limit, up to the maximum', () => {
    const limits = [32];
    for (let i = 0; i < 8; i++) limits.push(nextConcurrency(limits[limits.length - 1], { utilization: 0.5, full: true }, bounds));
    expect(limits).toEqual([32, 35, 39, 43, 47, 52, 57, 63, 64]);
  });

  it('keeps the limit when there was no more work to take, or the loop is between the two marks', () => {
    expect(nextConcurrency(40, { utilization: 0.2, full: false }, bounds)).toBe(40);
    expect(nextConcurrency(40, { utilization: 1, full: false }, bounds)).toBe(40);
    expect(nextConcurrency(40, { utilization: SPARE, full: true }, bounds)).toBe(40);
    expect(nextConcurrency(40, { utilization: (SPARE + BUSY) / 2, full: true }, bounds)).toBe(40);
  });

  it('moves by one at least, and never leaves the bounds', () => {
    expect(nextConcurrency(2, { utilization: 1, full: true }, { min: 1, max: 4 })).toBe(1);
    expect(nextConcurrency(1, { utilization: 0, full: true }, { min: 1, max: 4 })).toBe(2);
    expect(nextConcurrency(1, { utilization: 1, full: true }, { min: 1, max: 4 })).toBe(1);
    expect(nextConcurrency(4, { utilization: 0, full: true }, { min: 1, max: 4 })).toBe(4);
  });
});

describe('loopBusy', () => {
  it('is the time the process ran on a core: a loop that waited for a core half the time is not busy', () => {
    // Utilization 99 %, 125 ms of CPU in 250 ms: the other half went to waiting for a core the API and MySQL held.
    expect(loopBusy(0.99, 125, 250)).toBe(0.5);
    expect(nextConcurrency(48, { utilization: loopBusy(0.99, 125, 250), full: true }, bounds)).toBe(53);
  });

  it('is the utilization when the loop ran on a core all that time, whatever the helper threads added', () => {
    expect(loopBusy(0.97, 245, 250)).toBe(0.97);
    // Garbage collection's helper threads add CPU time beyond the loop's own.
    expect(loopBusy(0.96, 300, 250)).toBe(0.96);
    expect(nextConcurrency(64, { utilization: loopBusy(0.96, 300, 250), full: true }, bounds)).toBe(48);
  });

  it('is the utilization for an empty interval', () => {
    expect(loopBusy(0.3, 0, 0)).toBe(0.3);
  });
});
