/** Raised when a webhook target resolves to an address the SSRF policy refuses. */
export class TargetNotAllowedError extends Error {
  // Same shape as Node's system errors so HTTP clients (and axios) carry the code through.
  readonly code = 'TARGET_NOT_ALLOWED';

  /** `hint`: how the operator may allow it, appended to the message (e.g. the configuration setting to change). */
  constructor(
    readonly address: string,
    hint = '',
  ) {
    super(`target address ${address} is not allowed${hint ? ` (${hint})` : ''}`);
    this.name = 'TargetNotAllowedError';
  }
}
