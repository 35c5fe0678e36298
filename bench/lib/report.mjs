// The table: each figure per history level, its target, and the verdict (a ratio where the target is one).
import { TARGETS } from './config.mjs';
import { STAGES } from './stages.mjs';

const fmt = (value, digits = 1) => (value == null ? '–' : Number(value).toLocaleString('en-US', { maximumFractionDigits: digits }));
const ms = (value) => (value == null ? '–' : `${fmt(value)} ms`);
const pct = (l) => `p50 ${ms(l.p50)} · p95 ${ms(l.p95)} · p99 ${ms(l.p99)} · max ${ms(l.max)}`;
const yes = (ok) => (ok ? 'PASS' : 'FAIL');

function table(headers, rows) {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => `| ${cells.map((cell, i) => String(cell).padEnd(widths[i])).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function renderReport(results) {
  const { floor, ceiling, levels } = results;
  const labels = levels.map((level) => `@${fmt(level.level, 0)} rows`);
  // Without levels (BENCH_PHASES=fairness,ordering), one column for the figures of the phases that have none.
  const columns = labels.length ? labels : ['value'];
  // A figure that was not measured (BENCH_PHASES) shows as '–'.
  const safe =
    (fn) =>
    (...args) => {
      try {
        const value = fn(...args);
        return value === undefined || (typeof value === 'number' && Number.isNaN(value)) ? '–' : value;
      } catch {
        return '–';
      }
    };
  const each = (fn) => levels.map(safe(fn));
  const verdicts = (fn) => levels.map(safe(fn)).join(' / ');

  // The SQL ceiling is measured once, after the first level: its ratio is that level's end-to-end rate to it.
  const ceilingRow = ceiling && [
    `SQL ceiling: the service's statements alone, ${ceiling.connections} connections, batch of one, deliveries/s`,
    ...each((l, i) =>
      i === 0
        ? `${fmt(ceiling.deliveriesPerSecond)} · ${fmt(ceiling.statementsPerDelivery, 2)} statements, MariaDB ${fmt(ceiling.mariadbCpuMsPerDelivery, 2)} ms CPU per delivery`
        : '',
    ),
    `e2e ≥ ${TARGETS.e2eToCeiling} × SQL ceiling`,
    safe(() => {
      const ratio = levels[0].phases.saturation.deliveriesPerSecond / ceiling.deliveriesPerSecond;
      return `${ratio.toFixed(2)}× ${yes(ratio >= TARGETS.e2eToCeiling)}${ceiling.ok ? '' : ', CHECK FAILED'}`;
    })(),
  ];

  const rows = [
    [
      'floor: bare BullMQ + HTTP GET, deliveries/s',
      ...each(() => fmt(floor.deliveriesPerSecond)),
      'no durable work',
      floor?.ok ? `ok (${floor.received}/${floor.jobs})` : `CHECK FAILED ${floor?.received}/${floor?.jobs}`,
    ],
    [
      'end-to-end sustained deliveries/s (saturation)',
      ...each((l) => fmt(l.phases.saturation.deliveriesPerSecond)),
      `≥ ${TARGETS.e2eToFloor} × floor`,
      verdicts((l) => {
        const ratio = l.phases.saturation.deliveriesPerSecond / floor.deliveriesPerSecond;
        return `${ratio.toFixed(2)}× ${yes(ratio >= TARGETS.e2eToFloor)}`;
      }),
    ],
    ['  status changes accepted/s (same window)', ...each((l) => fmt(l.phases.saturation.acceptedPerSecond)), '', ''],
    ['  drain after the drive stopped', ...each((l) => `${fmt(l.phases.saturation.drainSecondsAfterDrive, 2)} s`), '', ''],
    [
      '  diagnostic: API alone, PUT status accepted/s (worker stopped)',
      ...each((l) => fmt(l.phases.backlog.acceptedPerSecondApiAlone)),
      '',
      '',
    ],
    [
      '  diagnostic: worker alone, draining a backlog, deliveries/s',
      ...each((l) => fmt(l.phases.backlog.workerDeliveriesPerSecond)),
      'vs floor',
      verdicts((l) => `${(l.phases.backlog.workerDeliveriesPerSecond / floor.deliveriesPerSecond).toFixed(2)}×`),
    ],
    ...(ceiling ? [ceilingRow] : []),
    [
      `latency at ${fmt(levels[0]?.phases.fixed?.offeredRate, 0)} changes/s (accepted → received)`,
      ...each((l) => pct(l.phases.fixed.latency)),
      `p99 < ${TARGETS.fixedP99Ms} ms`,
      verdicts(
        (l) => `${(l.phases.fixed.latency.p99 / TARGETS.fixedP99Ms).toFixed(2)}× ${yes(l.phases.fixed.latency.p99 < TARGETS.fixedP99Ms)}`,
      ),
    ],
    [
      '  achieved rate at the fixed load',
      ...each((l) => `${fmt(l.phases.fixed.acceptedPerSecond)}/s accepted, ${fmt(l.phases.fixed.deliveriesPerSecond)}/s delivered`),
      '',
      '',
    ],
    [
      `latency at saturation (${levels[0]?.phases.saturation?.inflight} PUTs in flight)`,
      ...each((l) => pct(l.phases.saturation.latency)),
      '–',
      '',
    ],
    [
      'PUT status latency, fixed load',
      ...each((l) => `p50 ${ms(l.phases.fixed.putLatency.p50)} · p99 ${ms(l.phases.fixed.putLatency.p99)}`),
      '',
      '',
    ],
    [
      'PUT status latency, saturation',
      ...each((l) => `p50 ${ms(l.phases.saturation.putLatency.p50)} · p99 ${ms(l.phases.saturation.putLatency.p99)}`),
      '',
      '',
    ],
    [
      `GET agent-event list at ${fmt(levels[0]?.phases.listAtRate?.offeredRate, 0)} req/s (steady)`,
      ...each((l) => `${fmt(l.phases.listAtRate.requestsPerSecond)} req/s · p99 ${ms(l.phases.listAtRate.latencyMs.p99)}`),
      `p99 < ${TARGETS.listP99Ms} ms at 1,000/s`,
      verdicts((l) => {
        const a = l.phases.listAtRate;
        const ok = a.latencyMs.p99 < TARGETS.listP99Ms && a.requestsPerSecond >= 0.95 * a.offeredRate && a.ok;
        return `${(a.latencyMs.p99 / TARGETS.listP99Ms).toFixed(2)}× ${yes(ok)}`;
      }),
    ],
    [
      `  the same rate as autocannon overallRate (per-second bursts, ${levels[0]?.phases.listBursts?.connections} conns)`,
      ...each((l) => `${fmt(l.phases.listBursts.requestsPerSecond)} req/s · p99 ${ms(l.phases.listBursts.latencyMs.p99)}`),
      '',
      '',
    ],
    [
      'GET agent-event list, unthrottled',
      ...each((l) => `${fmt(l.phases.listMax.requestsPerSecond)} req/s · p99 ${ms(l.phases.listMax.latencyMs.p99)}`),
      '–',
      '',
    ],
    [
      'POST agent event, unthrottled',
      ...each((l) => `${fmt(l.phases.post.requestsPerSecond)} req/s · p99 ${ms(l.phases.post.latencyMs.p99)}`),
      '–',
      '',
    ],
    [
      'GET delivery log (extra), unthrottled',
      ...each((l) => `${fmt(l.phases.deliveryLog.requestsPerSecond)} req/s · p99 ${ms(l.phases.deliveryLog.latencyMs.p99)}`),
      '–',
      '',
    ],
    [
      'API peak RSS at saturation',
      ...each(
        (l) => `${fmt(l.rss.saturation.api.peakMb)} MB (${fmt(l.rss.start.api.rssMb)} at start, ${fmt(l.rss.end.api.peakMb)} at the end)`,
      ),
      `< ${TARGETS.apiRssMb} MB`,
      verdicts(
        (l) => `${(l.rss.saturation.api.peakMb / TARGETS.apiRssMb).toFixed(2)}× ${yes(l.rss.saturation.api.peakMb < TARGETS.apiRssMb)}`,
      ),
    ],
    [
      'worker peak RSS at saturation',
      ...each((l) => `${fmt(l.rss.saturation.worker.peakMb)} MB (${fmt(l.rss.start.worker.rssMb)} MB at start)`),
      `< ${TARGETS.workerRssMb} MB`,
      verdicts(
        (l) =>
          `${(l.rss.saturation.worker.peakMb / TARGETS.workerRssMb).toFixed(2)}× ${yes(l.rss.saturation.worker.peakMb < TARGETS.workerRssMb)}`,
      ),
    ],
  ];
  // Without levels (no floor either), none of the rows above has a figure.
  if (!levels.length) rows.length = 0;
  rows.push(...naiveRows(results, labels));
  rows.push(...fairnessRows(results, columns.length), ...orderingRows(results, columns.length));
  const main = table(['figure', ...columns, 'target', 'verdict'], rows);

  // Growth: the last level against the first.
  let growth = '';
  if (levels.length > 1) {
    const first = levels[0];
    const last = levels[levels.length - 1];
    const metrics = [
      ['end-to-end deliveries/s', (l) => l.phases.saturation.deliveriesPerSecond, 'higher'],
      ['worker alone deliveries/s (diagnostic)', (l) => l.phases.backlog.workerDeliveriesPerSecond, 'higher'],
      ['latency p99 at fixed load', (l) => l.phases.fixed.latency.p99, 'lower'],
      ['latency p99 at saturation', (l) => l.phases.saturation.latency.p99, 'lower'],
      ['GET list p99 at fixed rate', (l) => l.phases.listAtRate.latencyMs.p99, 'lower'],
      ['GET list req/s unthrottled', (l) => l.phases.listMax.requestsPerSecond, 'higher'],
      ['POST agent event req/s', (l) => l.phases.post.requestsPerSecond, 'higher'],
      ['POST agent event p99', (l) => l.phases.post.latencyMs.p99, 'lower'],
      ['GET delivery log req/s (extra)', (l) => l.phases.deliveryLog.requestsPerSecond, 'higher'],
      ['worker peak RSS at saturation', (l) => l.rss.saturation.worker.peakMb, 'lower'],
      ['API peak RSS', (l) => l.rss.end.api.peakMb, 'lower'],
    ];
    growth = table(
      ['figure', labels[0], labels[labels.length - 1], 'ratio', `within ${TARGETS.growth * 100} %`],
      metrics.map(([name, get, better]) => {
        const value = (level) => {
          const v = safe(get)(level);
          return typeof v === 'number' ? v : null;
        };
        const a = value(first);
        const b = value(last);
        const ratio = a ? b / a : null;
        const ok = ratio != null && (better === 'higher' ? ratio >= 1 - TARGETS.growth : ratio <= 1 + TARGETS.growth);
        return [name, fmt(a), fmt(b), ratio == null ? '–' : `${ratio.toFixed(2)}×`, ratio == null ? '–' : yes(ok)];
      }),
    );
  }

  const checkRows = [];
  const received = (check) => `${check.received}/${check.expected}${check.superseded ? ` (+${check.superseded} superseded)` : ''}`;
  const statusRow = (name, check) => [
    name,
    received(check),
    check.duplicates,
    check.extraDeliveries,
    check.wrongPayload + (check.supersededReceived ? ` (+${check.supersededReceived} superseded yet received)` : ''),
    check.putErrors,
    yes(check.ok),
  ];
  for (const level of levels) {
    for (const [phase, check] of Object.entries(level.phases)) {
      if ('expected' in check) {
        checkRows.push([
          `@${fmt(level.level, 0)} ${phase}`,
          `${check.received}/${check.expected}`,
          check.duplicates,
          check.extraDeliveries,
          check.wrongPayload,
          check.putErrors,
          yes(check.ok),
        ]);
      } else {
        checkRows.push([
          `@${fmt(level.level, 0)} ${phase}`,
          `${check.ok2xx}/${check.requests} 2xx`,
          '',
          '',
          check.wrongBody ?? '',
          check.errors + check.timeouts,
          yes(check.ok),
        ]);
      }
    }
  }
  for (const [phase, check] of Object.entries(results.naive?.phases ?? {})) {
    const row = [check.received + '/' + check.expected, check.duplicates, check.extraDeliveries, check.wrongPayload, check.putErrors];
    checkRows.push([`@${fmt(results.naive.level, 0)} naive ${phase}`, ...row, yes(check.ok)]);
  }
  for (const [phase, check] of Object.entries(results.fairness?.phases ?? {})) checkRows.push(statusRow(`fairness ${phase}`, check));
  for (const [phase, check] of Object.entries(results.ordering?.phases ?? {})) checkRows.push(statusRow(`ordering ${phase}`, check));
  // The SQL ceiling: succeeded deliveries per change made; changes without exactly one delivery; deliveries whose
  // loaded facts (what the payload is built from) were not those of their change.
  if (ceiling?.check) {
    checkRows.push([
      `@${fmt(ceiling.level, 0)} SQL ceiling`,
      `${ceiling.check.succeeded}/${ceiling.check.made}`,
      '',
      ceiling.notOneDelivery ?? '',
      ceiling.wrongFacts ?? '',
      '',
      yes(ceiling.ok),
    ]);
  }
  const checks = table(
    ['check', 'received/expected', 'dup (same id)', 'extra deliveries', 'wrong payload/body', 'request errors', 'verdict'],
    checkRows,
  );

  const diagRows = [];
  const fj = results.floor?.perJob;
  if (fj) {
    diagRows.push([
      'floor per job (fill + drain)',
      fmt(fj.mysql.Questions ?? 0, 2),
      '–',
      '–',
      fmt(fj.redisTotal, 1),
      Object.entries(fj.cpuMs)
        .map(([k, v]) => `${k} ${fmt(v, 2)}`)
        .join(', '),
    ]);
  }
  if (ceiling) {
    const c = ceiling.mysqlPerDelivery;
    diagRows.push([
      'SQL ceiling per delivery',
      fmt(c.Questions, 2),
      `${fmt(c.Com_select, 2)}/${fmt(c.Com_insert, 2)}/${fmt(c.Com_update, 2)}/${fmt(c.Com_commit, 2)}`,
      fmt((c.Handler_read_key ?? 0) + (c.Handler_read_next ?? 0) + (c.Handler_read_rnd_next ?? 0), 1),
      '–',
      `mysql ${fmt(ceiling.mariadbCpuMsPerDelivery, 2)}, bench ${fmt(ceiling.benchCpuMsPerDelivery, 2)}`,
    ]);
  }
  for (const level of levels) {
    const d = level.diagnostics.saturationPerDelivery;
    if (!d) continue;
    diagRows.push([
      `@${fmt(level.level, 0)} per delivery (saturation)`,
      fmt(d.mysql.Questions, 2),
      `${fmt(d.mysql.Com_select, 2)}/${fmt(d.mysql.Com_insert, 2)}/${fmt(d.mysql.Com_update, 2)}/${fmt(d.mysql.Com_commit, 2)}`,
      fmt((d.mysql.Handler_read_key ?? 0) + (d.mysql.Handler_read_next ?? 0) + (d.mysql.Handler_read_rnd_next ?? 0), 1),
      fmt(d.redisTotal, 1),
      Object.entries(d.cpuMs)
        .map(([k, v]) => `${k} ${fmt(v, 2)}`)
        .join(', '),
    ]);
    for (const [name, key] of [
      ['per delivery (saturation, the second run)', 'saturationAgainPerDelivery'],
      [`per delivery at the fixed load`, 'fixedPerDelivery'],
      ['per PUT, worker stopped', 'backlogFillPerChange'],
      ['per delivery, worker alone', 'backlogDrainPerDelivery'],
      ['per GET list', 'listPerRequest'],
      ['per POST event', 'postPerRequest'],
      ['per GET delivery log', 'deliveryLogPerRequest'],
    ]) {
      const p = level.diagnostics[key];
      if (!p) continue;
      diagRows.push([
        `@${fmt(level.level, 0)} ${name}`,
        fmt(p.mysql.Questions, 2),
        `${fmt(p.mysql.Com_select, 2)}/${fmt(p.mysql.Com_insert, 2)}/${fmt(p.mysql.Com_update, 2)}/${fmt(p.mysql.Com_commit, 2)}`,
        fmt((p.mysql.Handler_read_key ?? 0) + (p.mysql.Handler_read_next ?? 0) + (p.mysql.Handler_read_rnd_next ?? 0), 1),
        fmt(p.redisTotal, 1),
        Object.entries(p.cpuMs)
          .map(([k, v]) => `${k} ${fmt(v, 2)}`)
          .join(', '),
      ]);
    }
  }
  const diag = table(
    [
      'where the time goes (server-wide counters)',
      'SQL statements',
      'select/insert/update/commit',
      'rows read (Handler_read_*)',
      'Redis cmds',
      'CPU ms by process',
    ],
    diagRows,
  );

  const m = results.machine;
  const header = [
    `# agent-events benchmark${results.quick ? ' (quick run)' : ''}`,
    '',
    `${results.startedAt} · ${m.label} (${m.cpus} × ${m.cpuModel}, ${m.memoryGb} GB) · Node ${m.node} · MariaDB ${m.mariadb} · Redis ${m.redis} · worker concurrency ${results.floor?.concurrency ?? results.settings.concurrency} · run ${results.runSeconds} s`,
    `Figures: ${[...results.settings.phases].join(', ')}.` +
      (levels.length
        ? ` Rows before each level: ${levels.map((l) => `@${fmt(l.level, 0)}: ${fmt(l.rows.deliveries, 0)} deliveries, ${fmt(l.rows.agent_events, 0)} agent events`).join('; ')}.`
        : ''),
  ].join('\n');
  const text = [
    header,
    '',
    main,
    '',
    growth
      ? `Growth (last level against the first; the levels took turns: API-alone figures in level order, status-change figures in reverse):\n\n${growth}\n`
      : '',
    `Checks (every webhook matched to its status change by agent_id + Agent-Event-Sequence; unexpected webhooks: ${results.checks.unexpectedWebhooks}; failed attempts in the database: ${results.checks.failedAttemptsRecentInDb}):`,
    '',
    checks,
    '',
    'Diagnostics (MariaDB and Redis counters are server-wide; CPU from /proc):',
    '',
    diag,
    '',
    naiveSection(results),
  ].join('\n');
  return { table: text, markdown: text };
}

/**
 * The main table's rows for fairness (bench/lib/fairness.mjs): the neighbour's change → receipt, idle and during the
 * backlog's drains; the drain rate with the neighbour against alone. A database of its own: no history level.
 */
function fairnessRows({ fairness: f }, width) {
  if (!f) return [];
  const at = (value) => [value, ...Array(width - 1).fill('')];
  const idle = f.idle;
  const during = f.neighbourDuringDrain;
  const checked = Object.values(f.phases).every((check) => check.ok);
  const p99Ok = during.p99 != null && during.p99 < TARGETS.neighbourP99Ms;
  const p50Ok = f.p50ToIdle != null && f.p50ToIdle <= TARGETS.neighbourP50ToIdle;
  const drainOk = f.drainRatio != null && f.drainRatio >= TARGETS.drainWithNeighbour;
  return [
    [
      `fairness: neighbour change → receipt, idle service (${idle.count} changes, one per ${fmt(f.intervalMs, 0)} ms, own receiver host; ${f.lanes === 'split' ? 'a worker process per lane' : 'one worker process, both lanes'})`,
      ...at(`p50 ${ms(idle.p50)} · p99 ${ms(idle.p99)} · max ${ms(idle.max)}`),
      '',
      checked ? 'checks PASS' : 'CHECK FAILED',
    ],
    [
      `  the same while ${fmt(f.backlog, 0)} deliveries of the bench client drain (5th–95th percentile arrival; ${during.count} changes, ${f.drainWithNeighbour.length} drain${f.drainWithNeighbour.length === 1 ? '' : 's'})`,
      ...at(pct(during)),
      `p99 < ${TARGETS.neighbourP99Ms} ms`,
      during.p99 == null ? '–' : `${(during.p99 / TARGETS.neighbourP99Ms).toFixed(2)}× ${yes(p99Ok)}`,
    ],
    [
      '  the same from the start of the fresh worker (before the backlog moves) to the last webhook',
      ...at(pct(f.neighbourWholeDrain ?? {})),
      '',
      '',
    ],
    [
      '  its p50 during the drain against the idle p50',
      ...at(`${ms(during.p50)} vs ${ms(idle.p50)}`),
      `≤ ${TARGETS.neighbourP50ToIdle} × idle p50`,
      f.p50ToIdle == null ? '–' : `${f.p50ToIdle.toFixed(2)}× ${yes(p50Ok)}`,
    ],
    [
      `fairness: backlog drain rate, with the neighbour / alone (${fmt(f.agents, 0)} agents; order ${f.drains.map((d) => (d.withNeighbour ? 'N' : 'A')).join(' ')}), deliveries/s`,
      ...at(`${f.drainWithNeighbour.map((rate) => fmt(rate)).join(' + ')} / ${f.drainAlone.map((rate) => fmt(rate)).join(' + ')}`),
      `≥ ${TARGETS.drainWithNeighbour} × alone`,
      f.drainRatio == null ? '–' : `${f.drainRatio.toFixed(2)}× ${yes(drainOk)}`,
    ],
    [
      '  diagnostic: worker jobs in flight (its limit, p50 over the drain) ÷ drain rate with the neighbour (the time a job spends in the saturated worker)',
      ...at(
        f.drains
          .filter((d) => d.withNeighbour && d.deliveriesPerSecond)
          .map((d) => {
            const limit = d.workerConcurrency?.p50 ?? f.concurrency;
            return `${fmt(limit, 0)} ÷ ${fmt(d.deliveriesPerSecond)}/s = ${ms((limit / d.deliveriesPerSecond) * 1000)}`;
          })
          .join(' · ') || '–',
      ),
      '',
      '',
    ],
  ];
}

/**
 * The main table's rows for the per-agent order (bench/lib/ordering.mjs): inversions, the last accepted webhook, and
 * what a blip (a refused request, retried) costs the deliveries behind it.
 */
function orderingRows({ ordering: o }, width) {
  if (!o) return [];
  const at = (value) => [value, ...Array(width - 1).fill('')];
  const { held, heldOtherwise, notHeld, blipped } = o.latency;
  return [
    [
      `ordering: inversions (one agent, ${o.changes} changes one per ${fmt(o.intervalMs, 0)} ms, both events on one URL, 503 to every ${o.failEvery}th request)`,
      ...at(`${o.inversions} in ${o.accepted} accepted (${o.refused} refused, ${o.superseded} superseded)`),
      `${TARGETS.inversions}`,
      `${yes(o.inversions === TARGETS.inversions)}${o.phases.ordering.ok ? '' : ', CHECK FAILED'}`,
    ],
    [
      '  the last accepted webhook is the newest change',
      ...at(`${o.lastIsNewest ? 'yes' : 'no'}: sequence ${o.lastAcceptedSequence ?? '–'} of ${o.newestSequence}`),
      'yes',
      yes(o.lastIsNewest),
    ],
    [
      `  change → receipt held behind a blip (${held.count}) / not held (${notHeld.count})`,
      ...at(`p50 ${ms(held.p50)} · p99 ${ms(held.p99)} / p50 ${ms(notHeld.p50)} · p99 ${ms(notHeld.p99)}`),
      '–',
      '',
    ],
    [
      `  held behind an older change still on its way, no blip (${heldOtherwise.count})`,
      ...at(heldOtherwise.count ? `p50 ${ms(heldOtherwise.p50)} · p99 ${ms(heldOtherwise.p99)}` : '–'),
      '',
      '',
    ],
    [
      `  delay a blip adds to those held (− not-held p50); the refused ones (${blipped.count}), retry schedule ${o.retrySchedule}`,
      ...at(
        `p50 ${ms(o.addedDelay.p50)} · p99 ${ms(o.addedDelay.p99)} · max ${ms(o.addedDelay.max)}; refused p50 ${ms(blipped.p50)} · max ${ms(blipped.max)}`,
      ),
      '–',
      '',
    ],
  ];
}

/**
 * The service against the naive reference at the fixed load, each a ratio (service ÷ naive) with its target:
 * p50 and p99 change → receipt, PUT p99, and CPU per delivery over all processes (the bench's own process left out).
 * From `fixedPaired` (pairedFixed in bench/run.mjs): slices taken in turns with the other side, or, in results written
 * before 2026-12-05's evening, two runs of each side in the order service, naive, naive, service; `runs` says which.
 */
export function fixedToNaive(service, naive) {
  const paired = Boolean(service.fixedPaired && naive.fixedPaired);
  const runs = !paired ? 'one run each' : service.fixedPaired.phases.length > 1 ? 'two runs each' : 'in turns';
  const fixedOf = (run) => (paired ? run.fixedPaired : { ...run.phases.fixed, cpuMs: run.diagnostics.fixedPerDelivery?.cpuMs ?? {} });
  const cpu = (run) =>
    Object.entries(fixedOf(run).cpuMs)
      .filter(([process]) => process !== 'bench')
      .reduce((sum, [, ms]) => sum + ms, 0) || null;
  const figures = [
    ['p50 change → receipt', 'p50', (run) => fixedOf(run).latency.p50],
    ['p99 change → receipt', 'p99', (run) => fixedOf(run).latency.p99],
    ['PUT p99', 'putP99', (run) => fixedOf(run).putLatency.p99],
    ['CPU ms per delivery, all processes', 'cpuPerDelivery', cpu],
  ];
  return figures.map(([name, key, read]) => {
    const [ours, theirs] = [service, naive].map((run) => {
      try {
        return read(run) ?? null;
      } catch {
        return null;
      }
    });
    const ratio = ours != null && theirs ? ours / theirs : null;
    const target = TARGETS.fixedToNaive[key];
    return { name, key, runs, service: ours, naive: theirs, ratio, target, pass: ratio != null && ratio <= target };
  });
}

/** The offered rate of the fixed load a side was compared at. */
const fixedRateOf = (run) => (run.phases.fixedBeside ?? run.phases.fixed)?.offeredRate;

/** The main table's rows for the naive durable reference (bench/naive/): its rate, and the service's ratio to it. */
function naiveRows({ naive, levels }, labels) {
  if (!naive) return [];
  const service = levels.find((level) => level.level === naive.level);
  const at = (value) => labels.map((label) => (label === `@${fmt(naive.level, 0)} rows` ? value : '–'));
  const { ratio, target, pass } = naive.e2eToNaive;
  const checked = Object.values(naive.phases).every((check) => check.ok);
  return [
    [
      'naive durable reference, sustained deliveries/s (two runs)',
      ...at(naive.e2eToNaive.naive.map((rate) => fmt(rate)).join(' / ')),
      'the honest comparison',
      checked ? 'checks PASS' : 'CHECK FAILED',
    ],
    [
      'end-to-end ÷ naive durable reference, (S1 + S2) ÷ (N1 + N2)',
      ...at(ratio == null ? '–' : `${ratio.toFixed(2)}×`),
      `≥ ${target}×`,
      ratio == null ? '–' : yes(pass),
    ],
    ...(service ? fixedToNaive(service, naive) : []).map((figure) => [
      `${figure.name} at ${fmt(fixedRateOf(naive), 0)} changes/s ÷ naive's, ${figure.runs} (${fmt(figure.service, 2)} ÷ ${fmt(figure.naive, 2)})`,
      ...at(figure.ratio == null ? '–' : `${figure.ratio.toFixed(2)}×`),
      `≤ ${figure.target}×`,
      figure.ratio == null ? '–' : yes(figure.pass),
    ]),
  ];
}

/** The naive durable reference beside the service, at the same level: rates, latencies, cost per delivery. */
function naiveSection(results) {
  const naive = results.naive;
  const service = results.levels.find((level) => level.level === naive?.level);
  if (!naive || !service) return '';
  const pick = (run, fn) => {
    try {
      return fn(run) ?? '–';
    } catch {
      return '–';
    }
  };
  const perDelivery = (d) => [
    ['  SQL statements per delivery', (r) => fmt(d(r).mysql.Questions, 2)],
    [
      '  select/insert/update/commit per delivery',
      (r) => ['Com_select', 'Com_insert', 'Com_update', 'Com_commit'].map((key) => fmt(d(r).mysql[key] ?? 0, 2)).join('/'),
    ],
    ['  Redis commands per delivery', (r) => fmt(d(r).redisTotal, 1)],
    [
      '  CPU ms per delivery by process',
      (r) =>
        Object.entries(d(r).cpuMs)
          .map(([k, v]) => `${k} ${fmt(v, 2)}`)
          .join(', '),
    ],
  ];
  const figures = [
    ['sustained deliveries/s (saturation)', (r) => fmt(r.phases.saturation.deliveriesPerSecond)],
    ['  the second run (order: service, naive, naive, service)', (r) => fmt(r.phases.saturationAgain?.deliveriesPerSecond)],
    ['  status changes accepted/s (same window)', (r) => fmt(r.phases.saturation.acceptedPerSecond)],
    ['  drain after the drive stopped', (r) => `${fmt(r.phases.saturation.drainSecondsAfterDrive, 2)} s`],
    [
      `latency at ${fmt(fixedRateOf(naive), 0)} changes/s, in turns with the other side (the ratios above)`,
      (r) => pct(r.fixedPaired.latency),
    ],
    ["  the level's own run (the service alone)", (r) => pct(r.phases.fixed.latency)],
    ['latency at saturation', (r) => pct(r.phases.saturation.latency)],
    [
      'PUT status p99, fixed load in turns / saturation',
      (r) => `${ms(r.fixedPaired.putLatency.p99)} / ${ms(r.phases.saturation.putLatency.p99)}`,
    ],
    [
      'peak RSS after saturation, API / worker',
      (r) => `${fmt(r.rss.saturation.api.peakMb)} MB / ${fmt(r.rss.saturation.worker.peakMb)} MB`,
    ],
    ...perDelivery((r) => r.diagnostics.saturationPerDelivery),
    [
      '  the same in the second saturation run (order: service, naive, naive, service)',
      (r) =>
        Object.entries(r.diagnostics.saturationAgainPerDelivery?.cpuMs ?? {})
          .map(([k, v]) => `${k} ${fmt(v, 2)}`)
          .join(', ') || '–',
    ],
    [
      `  where the time goes at the fixed load, mean ms: ${Object.keys(STAGES).join(' · ')} (bench/lib/stages.mjs)`,
      (r) =>
        r.phases.fixedBeside?.stages?.changes
          ? Object.keys(STAGES)
              .map((stage) => fmt(r.phases.fixedBeside.stages[stage].mean, 1))
              .join(' · ')
          : '–',
    ],
    [
      '  CPU ms per delivery by process, fixed load in turns',
      (r) =>
        Object.entries(r.fixedPaired?.cpuMs ?? {})
          .map(([k, v]) => `${k} ${fmt(v, 2)}`)
          .join(', ') || '–',
    ],
  ];
  const { ratio, target, pass } = naive.e2eToNaive;
  return [
    `Naive durable reference (bench/naive/: one transaction per change, one queue.add per delivery, one load and one record`,
    `transaction per attempt, no batching) at @${fmt(naive.level, 0)} rows, beside the service; saturation with`,
    `${naive.phases.saturation.inflight} PUTs in flight, twice each in the order service, naive, naive, service. End-to-end ÷ naive,`,
    `(S1 + S2) ÷ (N1 + N2): ${ratio == null ? '–' : `${ratio.toFixed(2)}×`} (target ≥ ${target}×: ${ratio == null ? '–' : yes(pass)}). The fixed load`,
    `compared: ${naive.phases.fixedBeside?.slices ?? '–'} slices of each side, taking turns with both sides up.`,
    '',
    table(
      ['figure', 'service', 'naive reference'],
      figures.map(([name, fn]) => [name, pick(service, fn), pick(naive, fn)]),
    ),
    '',
  ].join('\n');
}
