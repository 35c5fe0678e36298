import { TargetNotAllowedError } from './target-not-allowed-error.js';

const REASON = 'the target is a private or loopback address (or another non-public one)';

describe('TargetNotAllowedError', () => {
  it('carries the code and the address (for the operator), and a message that names no address', () => {
    const err = new TargetNotAllowedError('10.0.0.5');
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('TARGET_NOT_ALLOWED');
    expect(err.address).toBe('10.0.0.5');
    expect(err.message).toBe(`target not allowed: ${REASON}`);
    expect(err.message).not.toContain('10.0.0.5');
    expect(err.name).toBe('TargetNotAllowedError');
  });

  it('ends its message with the hint it is given', () => {
    expect(new TargetNotAllowedError('127.0.0.1', 'not in X').message).toBe(`target not allowed: ${REASON}, not in X`);
  });
});
