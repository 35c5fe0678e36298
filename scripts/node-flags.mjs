import { availableParallelism } from 'node:os';

// Node flags the API and the delivery worker run with (scripts/start.mjs, the benchmarks, the README's production
// commands); the figures behind them are in bench/README.md's history.
// A 1 GB old generation instead of V8's default (a share of the machine's memory, 4 GB here): V8 collects sooner and
// the peak RSS at saturation drops (API ~250 → ~210 MB, worker ~240 → ~175 MB) without a loss of throughput; 512 MB
// saved 10 MB more but ran slower (V8 treats a heap that small as a low-memory device), 2 GB saved nothing.
// The worker's young generation grows to V8's largest (semi-spaces of 16 MB here). It was capped at 8 MB, with its old
// generation started at 96 MB so that at 200 changes/s V8 would not collect it in full every few seconds. At 200
// changes/s the cap made the worker scavenge about twice as often: its GC pauses summed 271–661 ms per 20 s round
// against 112–322 with 16 MB, and its CPU per delivery was 1.25× the naive reference worker's (median of 20 rounds)
// against 1.12× (12 rounds); with fewer objects promoted, its old generation is collected in full at most twice a round
// without the head start. Its peak RSS at saturation fell from 170–176 MB to 158–163 MB (the limit is 200): the head
// start cost more memory than the larger young generation (bench/README.md).
// On a machine of two cores or fewer, which the API and the worker share with each other, MariaDB and Redis, V8
// collects their garbage on their main threads alone (`--single-threaded-gc`): its helper threads only wait there for
// a core the other processes hold, and the main thread waits for them (bench/README.md). For the worker, at 200
// changes/s: CPU per delivery 1.01× and 1.06× the naive reference worker's with it, 1.07× and 1.14× without (medians
// of 4 rounds, two runs each way, taking turns); its peak RSS at saturation 169 MB against 158 (the limit is 200).
// The API allocates every object young (`--no-allocation-site-pretenuring`). A burst (a shift change, the bench's warm-up
// at saturation) leaves V8 sure that what the request path's allocation sites make lives long, and it went on making
// it in the old generation after the burst: at 200 changes/s ~0.7 MB of it died there per scavenge (every ~0.66 s,
// 3–6 ms each), and the old generation was collected in full 2–4 times per 30 s round, pauses up to 22 ms in the PUT's
// tail. Without pretenuring the heap after a scavenge stays flat, scavenges take 1.2–2.5 ms, at most one full
// collection a round; the GC pauses summed 62–105 ms per round against 283–342, and the peak RSS fell from 211 to
// 182–190 MB (`node bench/fixed-load.mjs`, bench/README.md). The worker keeps V8's pretenuring: without it, its pauses did not move.
// Both keep their young generation through a quiet spell (`--min-semi-space-size=16`). Some 8 s after the traffic
// stops, V8's memory reducer collects an idle heap in full and shrinks its semi-spaces to 1 MB; when the traffic comes
// back (the next shift, a burst after a lull), V8 grows them again only as objects survive, and request objects do
// not: at 200 changes/s after a minute's lull the API scavenged 225–259 times per 30 s round and the worker 165–183,
// against 42–43 and 68–69 before the lull, with the p99 change → receipt 17–28 ms against 6–8. Held at 16 MB (V8's
// size here at 200 changes/s anyway), the round after a lull scavenges as the first (43 / 70), and the peak RSS at
// 200 changes/s does not move. At saturation it costs memory: two semi-spaces of 16 MB from the first request of a
// burst, where one shrunk in a lull grew back only during it; the worker's peak RSS at saturation was 165–194 MB of its
// 200 MB in the full runs with the flag, at most 170 before. The reducer itself stays (`--no-memory-reducer` spared
// only its full collection of an idle heap, which can fall on the first requests after a lull: 35 ms on the API's
// main thread, seen once) (`node bench/fixed-load.mjs`, bench/README.md).
const OLD_GENERATION = '--max-old-space-size=1024';
const YOUNG_GENERATION = '--min-semi-space-size=16';
const GC_THREADS = availableParallelism() <= 2 ? ['--single-threaded-gc'] : [];
export const API_NODE_FLAGS = [OLD_GENERATION, YOUNG_GENERATION, '--no-allocation-site-pretenuring', ...GC_THREADS];
export const WORKER_NODE_FLAGS = [OLD_GENERATION, YOUNG_GENERATION, ...GC_THREADS];
