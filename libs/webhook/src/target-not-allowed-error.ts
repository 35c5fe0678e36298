/** Raised when a webhook target resolves to an address the SSRF policy refuses. */
export class TargetNotAllowedError extends Error {
  // Same shape as Node's system errors so HTTP clients (and axios) carry the code through.
  readonly code = 'TARGET_NOT_ALLOWED';

  constructor(readonly address: string) {
    super(`target address ${address} is not allowed`);
    this.name = 'TargetNotAllowedError';
  }
}
