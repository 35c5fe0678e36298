/** Why a target is refused, in general terms: never the address (a tenant must not learn what a name resolves to). */
export const REFUSED_TARGET = 'the target is a private or loopback address (or another non-public one)';

/** The reason of a refusal, with the hint (how the operator may allow a target) after it. */
export const refusal = (hint = '') => `${REFUSED_TARGET}${hint ? `, ${hint}` : ''}`;

/** Raised when a webhook target resolves to an address the SSRF policy refuses. */
export class TargetNotAllowedError extends Error {
  // Same shape as Node's system errors so HTTP clients (and axios) carry the code through.
  readonly code = 'TARGET_NOT_ALLOWED';

  /**
   * `address`: the address refused, for the operator's log only: the message never names it. `hint`: how the operator
   * may allow it, appended to the message (e.g. the configuration setting to change).
   */
  constructor(
    readonly address: string,
    hint = '',
  ) {
    super(`target not allowed: ${refusal(hint)}`);
    this.name = 'TargetNotAllowedError';
  }
}
