import { TargetNotAllowedError } from './target-not-allowed-error.js';

describe('TargetNotAllowedError', () => {
  it('carries the code, the address and a readable message', () => {
    const err = new TargetNotAllowedError('10.0.0.5');
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('TARGET_NOT_ALLOWED');
    expect(err.address).toBe('10.0.0.5');
    expect(err.message).toBe('target address 10.0.0.5 is not allowed');
    expect(err.name).toBe('TargetNotAllowedError');
  });

  it('ends its message with the hint it is given', () => {
    expect(new TargetNotAllowedError('127.0.0.1', 'list it in X').message).toBe('target address 127.0.0.1 is not allowed (list it in X)');
  });
});
