import { jest } from '@jest/globals';
import type { Logger } from '@nestjs/common';
import { throttledLog } from './throttled-log.js';

describe('throttledLog', () => {
  let now = 0;
  const lines: string[] = [];
  const log = throttledLog({ warn: (line: string) => lines.push(line) } as unknown as Logger);

  beforeEach(() => {
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  it('logs an error repeated in a tight loop with backoff (1 s, 2 s, 4 s …), counting those held back', () => {
    // 10 seconds of the same MOVED error every millisecond, its slot number changing.
    for (now = 0; now < 10_000; now++) log(`worker: MOVED ${now % 3} 127.0.0.1:7001`);
    expect(lines).toEqual([
      'worker: MOVED 0 127.0.0.1:7001',
      'worker: MOVED 1 127.0.0.1:7001 (and 999 more like it)',
      'worker: MOVED 0 127.0.0.1:7001 (and 1999 more like it)',
      'worker: MOVED 1 127.0.0.1:7001 (and 3999 more like it)',
    ]);
  });

  it('logs another kind of error at once, and starts over after a quiet minute', () => {
    lines.length = 0;
    now = 20_000;
    log('worker: CLUSTERDOWN The cluster is down');
    now = 100_000;
    log('worker: MOVED 1 127.0.0.1:7001');
    expect(lines).toEqual(['worker: CLUSTERDOWN The cluster is down', 'worker: MOVED 1 127.0.0.1:7001 (and 2999 more like it)']);
  });
});
