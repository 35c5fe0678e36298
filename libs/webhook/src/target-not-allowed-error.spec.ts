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
});
