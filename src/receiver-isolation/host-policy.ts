/** What a host's shared state said when a request asked to start (host-isolation.ts's acquire script). */
export type Verdict =
  | { kind: 'run' }
  /** The circuit is half-open and this request is its one probe. */
  | { kind: 'probe' }
  | { kind: 'open'; openUntil: number }
  /** Half-open, and another request (of any worker) is the probe. */
  | { kind: 'probing' }
  /** Every slot is taken; the host's slot time is booked up to `bookedUntil` for the requests held before. */
  | { kind: 'full'; bookedUntil: number };

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface HoldOptions {
  concurrency: number;
  openMs: number;
  /** The longest a probe can take (the request timeout). */
  probeMs: number;
}

/** Work held by an open circuit comes back spread over this long after it half-opens, not all at once. */
const OPEN_SPREAD_MS = 5000;

export function circuitState(verdict: Verdict): CircuitState {
  if (verdict.kind === 'open') return 'open';
  return verdict.kind === 'probe' || verdict.kind === 'probing' ? 'half-open' : 'closed';
}

/**
 * Why a request that may not start is held, and for how long: until the circuit half-opens (plus a spread, so the
 * held work does not return all at once); about as long as the probe in flight can take, so it comes back once the
 * probe decided; or until its booked share of the host's slot time, ±10 %.
 */
export function hold(
  host: string,
  verdict: Exclude<Verdict, { kind: 'run' | 'probe' }>,
  now: number,
  options: HoldOptions,
  random: number,
): { reason: string; delayMs: number } {
  const [reason, delayMs] =
    verdict.kind === 'open'
      ? [`held: host ${host} circuit open`, verdict.openUntil - now + random * Math.min(OPEN_SPREAD_MS, options.openMs)]
      : verdict.kind === 'probing'
        ? [`held: host ${host} circuit half-open, a probe is deciding`, options.probeMs * (1 + 0.5 * random)]
        : [
            `held: host ${host} at its limit of ${options.concurrency} concurrent requests`,
            (verdict.bookedUntil - now) * (0.9 + 0.2 * random),
          ];
  return { reason, delayMs: Math.max(1, Math.round(delayMs)) };
}
