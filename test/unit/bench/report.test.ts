import { describe, expect, it } from 'vitest';
import { tlsUsage, type ClosedLoopResult, type CpuUsage, type OpenLoopResult, type TargetResult } from '../../bench/measure.js';
import { compare, derive, fmtInt, fmtMs, fmtRatio, formatReport, goals, jsonLine, mtlsCost, noiseVerdict, renderTable, roundSignificant, type ScenarioRun } from '../../bench/report.js';
import type { TopologyKind } from '../../bench/topology.js';

function cpu(proxySeconds: number, requests: number, hasProxy: boolean, windowSeconds = 10): CpuUsage {
  return {
    windowSeconds,
    requests,
    proxySeconds,
    proxyUsPerRequest: hasProxy ? (proxySeconds * 1e6) / requests : undefined,
    proxyUserUsPerRequest: hasProxy ? (proxySeconds * 0.75e6) / requests : undefined,
    proxyCores: proxySeconds / windowSeconds,
    appsCores: 0.5,
    loadCores: 0.2,
    foreignCores: 0,
    irqCores: 0,
    coreBusy: {},
  };
}

function open(rate: number, p50: number, p90: number, p99: number, proxyUs: number | undefined): OpenLoopResult {
  const requests = rate * 10;
  return {
    rate,
    timing: 'precise',
    durationMs: 10_000,
    sent: requests,
    completed: requests,
    errors: 0,
    non2xx: 0,
    achievedRate: rate,
    latencyMs: { count: requests, min: 0.05, mean: p50, stddev: 0.1, p50, p90, p99, p999: p99 * 2, max: p99 * 3 },
    cpu: cpu(proxyUs === undefined ? 0 : (proxyUs * requests) / 1e6, requests, proxyUs !== undefined),
  };
}

function closed(rps: number, proxyUs: number | undefined): ClosedLoopResult {
  const requests = rps * 10;
  return { tool: 'wrk', connections: 50, durationMs: 10_000, requests, rps, errors: 0, non2xx: 0, latencyMs: {}, cpu: cpu(proxyUs === undefined ? 0 : (proxyUs * requests) / 1e6, requests, proxyUs !== undefined) };
}

function run(topology: TopologyKind, path: 'full' | 'single', result: TargetResult | undefined, noisy = false): ScenarioRun {
  return {
    topology,
    path,
    legs: topology === 'direct' ? 0 : path === 'full' ? 4 : 1,
    ...(result ? { result } : { error: 'nginx refused the config' }),
    noise: noiseVerdict(noisy ? 0.5 : 1, [], 0.85),
  };
}

const runs: ScenarioRun[] = [
  run('direct', 'full', { open: [open(1000, 1.0, 2.0, 5.0, undefined), open(500, 0.9, 1.5, 4.0, undefined)], closed: closed(5000, undefined) }),
  run('meshbox', 'full', { open: [open(1000, 5.0, 8.0, 13.0, 800), open(500, 3.0, 5.0, 8.0, 900)], closed: closed(1000, 700), memory: { rssMB: 150, hwmMB: 170 } }),
  run('nginx', 'full', { open: [open(1000, 2.0, 3.2, 6.0, 150), open(500, 1.8, 2.5, 5.0, 160)], closed: closed(3000, 100), memory: { rssMB: 14, hwmMB: 15 } }),
  run('direct', 'single', { open: [open(1000, 0.2, 0.4, 1.0, undefined), open(500, 0.2, 0.3, 0.9, undefined)], closed: closed(20000, undefined) }),
  run('meshbox', 'single', { open: [open(1000, 0.8, 1.2, 3.0, 200), open(500, 0.7, 1.0, 2.0, 220)], closed: closed(5000, 200) }, true),
  run('nginx', 'single', { open: [open(1000, 0.5, 0.8, 2.0, 40), open(500, 0.45, 0.7, 1.9, 45)], closed: closed(12000, 40) }),
];

describe('derive', () => {
  const derived = derive(runs);
  const byId = Object.fromEntries(derived.map((d) => [d.id, d]));

  it('gives added latency per proxy leg against direct of the same path', () => {
    expect(byId['meshbox-full']!.addedPerLegMs['1000']).toEqual({ p50: 1, p90: 1.5, p99: 2 });
    const nginx = byId['nginx-full']!.addedPerLegMs['1000']!;
    expect([nginx.p50, nginx.p90, nginx.p99].map((v) => Number(v.toFixed(6)))).toEqual([0.25, 0.3, 0.25]);
    expect(byId['meshbox-single']!.addedPerLegMs['1000']!.p50).toBeCloseTo(0.6);
    expect(byId['direct-full']!.addedPerLegMs).toEqual({});
  });

  it('marks rates a path could not sustain', () => {
    const slow = { ...open(1000, 400, 600, 700, 900), achievedRate: 700 };
    const d = derive([run('direct', 'full', runs[0]!.result), run('meshbox', 'full', { open: [slow, open(500, 3, 5, 8, 900)] })]);
    expect(d[1]!.overloadedRates).toEqual([1000]);
    expect(d[0]!.overloadedRates).toEqual([]);
  });

  it('gives CPU per request, capacity and memory of the proxy', () => {
    const m = byId['meshbox-full']!;
    expect(m.cpuUsPerRequest.max).toBeCloseTo(700);
    expect(m.cpuUsPerRequest.byRate['1000']).toBeCloseTo(800);
    expect(m.capacityRps).toBeCloseTo(1e6 / 700);
    expect(m.proxyCoresAtMax).toBeCloseTo(0.7);
    expect(m.rssMB).toBe(150);
    expect(byId['direct-full']!.cpuUsPerRequest).toEqual({ byRate: {} });
  });
});

describe('compare and goals', () => {
  const comparisons = compare(derive(runs), 1000);

  it('gives meshbox relative to nginx per path', () => {
    const full = comparisons.find((c) => c.path === 'full')!;
    expect(full.addedLatencyRatioP50).toBeCloseTo(4);
    expect(full.addedLatencyRatioP90).toBeCloseTo(5);
    expect(full.addedLatencyRatioByRate['500']!.p50).toBeCloseTo(0.525 / 0.225);
    expect(full.meshboxOverloaded).toBe(false);
    expect(full.throughputRatio).toBeCloseTo(1 / 3);
    expect(full.cpuPerRequestRatio).toBeCloseTo(7);
    expect(full.capacityRatio).toBeCloseTo(1 / 7);
    expect(full.nginxSaturated).toBe(false);
    expect(full.noisy).toBe(false);
    expect(comparisons.find((c) => c.path === 'single')!.noisy).toBe(true);
  });

  it('judges the goals: latency on the full path, throughput on the lower single-hop ratio', () => {
    const g = goals(comparisons);
    expect(g.addedLatency).toMatchObject({ max: 1.5, met: false, meshboxOverloaded: false });
    expect(g.addedLatency!.otherRates['500']).toBeCloseTo(0.525 / 0.225);
    expect(g.addedLatency!.ratio).toBeCloseTo(4);
    expect(g.throughput!.measuredRatio).toBeCloseTo(5000 / 12000);
    expect(g.throughput!.capacityRatio).toBeCloseTo(0.2);
    expect(g.throughput!.ratio).toBeCloseTo(0.2);
    expect(g.throughput!.met).toBe(false);
  });

  it('compares nothing for a path whose nginx run failed, and no latency ratio on a ~0 nginx figure', () => {
    const failed = runs.map((r) => (r.topology === 'nginx' && r.path === 'full' ? run('nginx', 'full', undefined) : r));
    expect(compare(derive(failed), 1000).map((c) => c.path)).toEqual(['single']);
    const flat = runs.map((r) => (r.topology === 'nginx' && r.path === 'single' ? run('nginx', 'single', { open: [open(1000, 0.2, 0.4, 1.0, 40)], closed: closed(12000, 40) }) : r));
    expect(compare(derive(flat), 1000).find((c) => c.path === 'single')!.addedLatencyRatioP50).toBeUndefined();
  });
});

describe('formatting', () => {
  it('renders aligned tables', () => {
    expect(renderTable(['name', '>n'], [['a', '1'], ['bbb', '1,000']])).toBe(['name      n', '----  -----', 'a         1', 'bbb   1,000'].join('\n'));
  });

  it('formats numbers for people', () => {
    expect([fmtMs(0.123), fmtMs(12.34), fmtMs(1234.5), fmtMs(undefined), fmtMs(-0.5)]).toEqual(['0.12', '12.3', '1235', '-', '-0.50']);
    expect([fmtInt(12345.6), fmtInt(Number.NaN)]).toEqual(['12,346', '-']);
    expect([fmtRatio(1.234), fmtRatio(undefined)]).toEqual(['1.23x', '-']);
  });

  it('prints every scenario, the comparison, the goals and marks noisy or failed rows', () => {
    const failed = runs.map((r) => (r.topology === 'nginx' && r.path === 'full' ? run('nginx', 'full', undefined) : r));
    const derived = derive(failed);
    const comparisons = compare(derived, 1000);
    const text = formatReport({ header: ['HEADER'], headlineRate: 1000, rates: [1000, 500], notes: ['a note'] }, derived, comparisons, goals(comparisons));
    const lines = text.split('\n');
    expect(lines[0]).toBe('HEADER');
    expect(text).toMatch(/^direct: caller -> callme\s+5,000\s+1\.00 \/ 2\.00 \/ 5\.00\s+0\.90 \/ 4\.00\s+baseline/m);
    expect(text).toMatch(/^meshbox: ingress\.\.callme \(4 legs\)\s+1,000\s+5\.00 \/ 8\.00 \/ 13\.0\s+3\.00 \/ 8\.00\s+1\.00 \(2\.00\)\s+700 \| 800\s+150\.0/m);
    expect(text).toMatch(/^nginx: ingress\.\.callme \(4 legs\)\s.*FAILED: nginx refused the config/m);
    expect(text).toMatch(/^\* meshbox: 1 sidecar -> callme .*NOISY \(cpu probe at 50% of best\)/m);
    expect(text).toMatch(/^\* single hop\s+2\.00x/m);
    expect(text).toContain('goal >= 0.80x: NOT met');
    expect(text).toContain('note: a note');
    expect(text).toMatch(/^proxy CPU during the throughput run:$/m);
    expect(text).toMatch(/^meshbox: ingress\.\.callme \(4 legs\)\s+700\s+525\s+175\s+1,429\s+70%\s+-\s+wrk$/m);
  });
});

describe('goal lines', () => {
  it('say when the latency goal cannot be judged, and that an overloaded meshbox misses it', () => {
    const flat = runs.map((r) => (r.topology === 'nginx' && r.path === 'full' ? run('nginx', 'full', { open: [open(1000, 1.0, 2.0, 5.0, 150), open(500, 1.8, 2.5, 5.0, 160)], closed: closed(3000, 100) }) : r));
    let comparisons = compare(derive(flat), 1000);
    expect(goals(comparisons).addedLatency).toMatchObject({ meshboxOverloaded: false });
    expect(goals(comparisons).addedLatency!.met).toBeUndefined();
    expect(goals(comparisons).addedLatency!.ratio).toBeUndefined();
    const text = formatReport({ header: [], headlineRate: 1000, rates: [1000, 500], notes: [] }, derive(flat), comparisons, goals(comparisons));
    expect(text).toMatch(/full path, p50\): - of nginx, goal <= 1\.50x: cannot be judged .*; at 500 req\/s: 2\.33x$/m);
    const slow = runs.map((r) => (r.topology === 'meshbox' && r.path === 'full' ? run('meshbox', 'full', { open: [{ ...open(1000, 400, 600, 700, 900), achievedRate: 700 }], closed: closed(700, 1400) }) : r));
    comparisons = compare(derive(slow), 1000);
    expect(goals(comparisons).addedLatency).toMatchObject({ met: false, meshboxOverloaded: true });
  });

  it('give the latency goal at the headline rate and the ratio at the other rates', () => {
    const derived = derive(runs);
    const comparisons = compare(derived, 1000);
    const text = formatReport({ header: [], headlineRate: 1000, rates: [1000, 500], notes: [] }, derived, comparisons, goals(comparisons));
    expect(text).toMatch(/full path, p50\): 4\.00x of nginx, goal <= 1\.50x: NOT met; at 500 req\/s: 2\.33x$/m);
  });
});

describe('mTLS on vs off', () => {
  // meshbox full path with mTLS (800 µs/req @1000) against the same with mTLS off (640 µs/req)
  const withTls = (o: OpenLoopResult, handshakes: number, resumed: number): OpenLoopResult => ({ ...o, tls: tlsUsage({ handshakes: 10, resumed: 0 }, { handshakes: 10 + handshakes, resumed }, 3, o.sent) });
  const on = run('meshbox', 'full', {
    open: [withTls(open(1000, 5.0, 8.0, 13.0, 800), 6, 4), withTls(open(500, 3.0, 5.0, 8.0, 900), 0, 0)],
    closed: { ...closed(1000, 700), tls: tlsUsage({ handshakes: 16, resumed: 4 }, { handshakes: 66, resumed: 54 }, 10, 10_000) },
  });
  const off = run('meshbox-no-mtls', 'full', {
    open: [withTls(open(1000, 4.0, 6.0, 10.0, 640), 0, 0), withTls(open(500, 2.5, 4.0, 7.0, 720), 0, 0)],
    closed: { ...closed(1250, 560), tls: tlsUsage({ handshakes: 0, resumed: 0 }, { handshakes: 0, resumed: 0 }, 10, 12_500) },
  });
  const all = [runs[0]!, runs[1]!, off, ...runs.slice(2)].map((r) => (r.topology === 'meshbox' && r.path === 'full' ? on : r));

  it('gives the CPU per request ratio, the added latency and the handshakes of the mTLS phase', () => {
    const c = mtlsCost(derive(all))!;
    expect(c.cpuRatioByRate['1000']).toBeCloseTo(1.25);
    expect(c.cpuRatioByRate['500']).toBeCloseTo(1.25);
    expect(c.cpuRatioAtMax).toBeCloseTo(1.25);
    expect(c.addedMsByRate['1000']).toEqual({ p50: 1, p99: 3 });
    expect(c.throughputRatio).toBeCloseTo(0.8);
    expect(c.handshakesByRate['1000']).toMatchObject({ handshakes: 6, resumed: 4, perSecond: 2, perRequest: 6 / 10_000 });
    expect(c.handshakesAtMax).toMatchObject({ handshakes: 50, resumed: 50, perSecond: 5 });
    expect(c.handshakesWhenOff).toBe(0);
    expect(c.overloadedRates).toEqual([]);
    expect(mtlsCost(derive(runs))).toBeUndefined();
    expect(mtlsCost(derive(all.map((r) => (r === off ? run('meshbox-no-mtls', 'full', undefined) : r))))).toBeUndefined();
  });

  it('judges the 25 % goal at the headline rate, at max throughput when that rate was overloaded', () => {
    const c = mtlsCost(derive(all))!;
    expect(goals([], c, 1000).mtls).toMatchObject({ max: 0.25, met: true, basis: '@1000 req/s' });
    expect(goals([], c, 1000).mtls!.increase).toBeCloseTo(0.25);
    const heavy = run('meshbox', 'full', { open: [{ ...open(1000, 400, 600, 700, 1200), achievedRate: 700 }, open(500, 3.0, 5.0, 8.0, 900)], closed: closed(900, 840) });
    const c2 = mtlsCost(derive(all.map((r) => (r === on ? heavy : r))))!;
    expect(c2.overloadedRates).toEqual([1000]);
    expect(goals([], c2, 1000).mtls).toMatchObject({ met: false, basis: 'at max throughput (1000 req/s was overloaded)' });
    expect(goals([], c2, 1000).mtls!.increase).toBeCloseTo(0.5);
  });

  it('prints the mTLS-off row, the on/off table and the goal line', () => {
    const derived = derive(all);
    const comparisons = compare(derived, 1000);
    const c = mtlsCost(derived);
    const text = formatReport({ header: [], headlineRate: 1000, rates: [1000, 500], notes: [] }, derived, comparisons, goals(comparisons, c, 1000), c);
    expect(text).toMatch(/^meshbox, mTLS off: ingress\.\.callme \(4 legs\)\s+1,250\s+4\.00 \/ 6\.00 \/ 10\.0\s+2\.50 \/ 7\.00\s+0\.75 \(1\.25\)\s+560 \| 640/m);
    expect(text).toContain('mTLS on vs off (meshbox full path, same run; 0 handshakes with mTLS off):');
    expect(text).toMatch(/^open loop @1000 req\/s\s+800 \| 640\s+\+25%\s+1\.00 \/ 3\.00\s+-\s+2\.0\s+0\.0006\s+4 of 6$/m);
    expect(text).toMatch(/^throughput \(closed loop\)\s+700 \| 560\s+\+25%\s+-\s+1,000 \| 1,250\s+5\.0\s+0\.0050\s+50 of 50$/m);
    expect(text).toMatch(/^ {2}mTLS CPU per request \(meshbox full path @1000 req\/s\): \+25% over mTLS off, goal <= \+25%: met$/m);
    // without the mTLS-off phase: neither the table nor the goal line
    const plain = formatReport({ header: [], headlineRate: 1000, rates: [1000, 500], notes: [] }, derive(runs), compare(derive(runs), 1000), goals(compare(derive(runs), 1000)));
    expect(plain).not.toContain('mTLS');
  });
});

describe('jsonLine', () => {
  it('is one line with the BENCH_JSON prefix and rounded numbers', () => {
    const line = jsonLine({ version: 1, a: 1.23456789, b: [123456.789, 0.000123456], c: 'x\ny' });
    expect(line.split('\n')).toHaveLength(1);
    expect(line.startsWith('BENCH_JSON {')).toBe(true);
    expect(JSON.parse(line.slice('BENCH_JSON '.length))).toEqual({ version: 1, a: 1.235, b: [123500, 0.0001235], c: 'x\ny' });
  });
  it('rounds to significant digits and keeps integers', () => {
    expect([roundSignificant(0), roundSignificant(42), roundSignificant(-1.23456), roundSignificant(Number.NaN)]).toEqual([0, 42, -1.235, Number.NaN]);
  });
});

describe('noiseVerdict', () => {
  it('flags slow probes and busy machines', () => {
    expect(noiseVerdict(0.9, [0.1], 0.85)).toEqual({ noisy: false, reasons: [], probeRatio: 0.9, foreignCoresMax: 0.1 });
    expect(noiseVerdict(0.5, [0.1, 0.6], 0.85).reasons).toEqual(['cpu probe at 50% of best', 'other processes used 0.60 cores']);
  });
});
