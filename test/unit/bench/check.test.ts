/**
 * `npm run bench:check` (test/bench/check.ts): issue #13's targets read from a BENCH_JSON line.
 */
import { describe, expect, it } from 'vitest';
import { checkTargets, formatCheck, parseBenchOutput, type BenchJsonLike } from '../../bench/check.js';

const bench = (over: Partial<BenchJsonLike> = {}): BenchJsonLike => ({
  revision: 'abc1234',
  scenarios: [
    { id: 'meshbox-full', rps: 1500, rssMB: 90, overloadedRates: [], latency: { '1000': { p50: 1.2, p99: 9.5, achievedRate: 1000 } } },
    { id: 'meshbox-single', rps: 6000 },
  ],
  comparisons: [{ path: 'single', cpuPerRequestRatio: 1.8, addedLatencyRatioByRate: { '1000': { p50: 1.5 } } }],
  memory: { idle: { process: { rssMB: 80 } } },
  ...over,
});

const verdicts = (b: BenchJsonLike): string[] => checkTargets(b).map((l) => l.verdict);

describe('bench:check', () => {
  it('says met for every target a run reaches, and which ones it cannot measure', () => {
    expect(verdicts(bench())).toEqual(['met', 'met', 'met', 'met', 'met', 'not measured', 'not measured']);
  });

  it('says NOT met with the figure', () => {
    const b = bench({
      scenarios: [{ id: 'meshbox-full', rps: 670, rssMB: 240, overloadedRates: [1000], latency: { '1000': { p50: 1440, p99: 1997, achievedRate: 557 } } }],
      comparisons: [{ path: 'single', cpuPerRequestRatio: 7.2, addedLatencyRatioByRate: { '1000': { p50: 2.4 } } }],
    });
    const lines = checkTargets(b);
    expect(lines.slice(0, 5).map((l) => l.verdict)).toEqual(['not met', 'not met', 'not met', 'not met', 'not met']);
    expect(lines[0]!.detail).toBe('7.20x');
    expect(lines[2]!.detail).toMatch(/^overloaded \(557 req\/s done\), p50 1440 ms, p99 1997 ms$/);
    expect(lines[3]!.detail).toBe('670 req/s (1.22x)');
    expect(lines[4]!.detail).toBe('idle 80 MB, under load 240 MB');
  });

  it('reads the last BENCH_JSON line of a saved run, or the JSON alone', () => {
    const json = JSON.stringify(bench());
    expect(parseBenchOutput(`table\nBENCH_JSON {"scenarios":[]}\nmore\nBENCH_JSON ${json}\n`).revision).toBe('abc1234');
    expect(parseBenchOutput(json).revision).toBe('abc1234');
    expect(() => parseBenchOutput('no json here')).toThrow();
    expect(() => parseBenchOutput('{"x":1}')).toThrow(/no BENCH_JSON/);
    expect(formatCheck(bench(), checkTargets(bench()))).toMatch(/^issue #13 targets, bench of abc1234:\n {2}met +one sidecar hop/);
  });
});
