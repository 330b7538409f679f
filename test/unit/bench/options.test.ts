import { describe, expect, it } from 'vitest';
import { bestByCore, slowestRatio, type ProbeResult } from '../../bench/cpu-probe.js';
import { durationsFor, parseOptions } from '../../bench/options.js';

describe('parseOptions', () => {
  it('defaults to a full run with nginx, pinning and wrk', () => {
    expect(parseOptions([], {})).toEqual({ quick: false, nginx: true, pin: true, wrk: true, mtlsOff: true, streaming: true, streamingMB: 1024, protocols: true, cold: true, workers: true, scale: 1, cpuProfDir: undefined, help: false });
  });
  it('reads flags from argv and the environment, argv last', () => {
    const env = { MESHBOX_BENCH_QUICK: '1', MESHBOX_BENCH_NGINX: '0', MESHBOX_BENCH_SCALE: '2' };
    expect(parseOptions(['--no-pin', '--scale=0.5', '--cpu-prof', '/tmp/p'], env)).toMatchObject({ quick: true, nginx: false, pin: false, wrk: true, scale: 0.5, cpuProfDir: '/tmp/p' });
    expect(parseOptions(['--no-wrk', '--quick', '-h'], {})).toMatchObject({ wrk: false, quick: true, help: true });
    expect(parseOptions([], { MESHBOX_BENCH_NGINX: 'yes' }).nginx).toBe(true);
    expect(parseOptions(['--no-mtls-off'], {}).mtlsOff).toBe(false);
    expect(parseOptions([], { MESHBOX_BENCH_MTLS_OFF: '0' }).mtlsOff).toBe(false);
    expect(parseOptions(['--no-streaming'], {}).streaming).toBe(false);
    expect(parseOptions(['--streaming-mb', '256'], {}).streamingMB).toBe(256);
    expect(parseOptions([], { MESHBOX_BENCH_STREAMING: '0', MESHBOX_BENCH_STREAMING_MB: '64' })).toMatchObject({ streaming: false, streamingMB: 64 });
    expect(() => parseOptions(['--streaming-mb', '0'], {})).toThrow(/1 to 16384/);
    expect(parseOptions(['--no-cold', '--no-workers'], {})).toMatchObject({ cold: false, workers: false });
    expect(parseOptions([], { MESHBOX_BENCH_COLD: '0', MESHBOX_BENCH_WORKERS: 'off' })).toMatchObject({ cold: false, workers: false });
  });
  it('refuses unknown options and bad values', () => {
    expect(() => parseOptions(['--fast'], {})).toThrow(/unknown option --fast/);
    expect(() => parseOptions(['--scale'], {})).toThrow(/needs a value/);
    expect(() => parseOptions(['--scale', '50'], {})).toThrow(/0\.1 to 10/);
    expect(() => parseOptions([], { MESHBOX_BENCH_SCALE: 'x' })).toThrow(/0\.1 to 10/);
  });
});

describe('durationsFor', () => {
  it('keeps a full run under 5 minutes and a quick one near 1', () => {
    const total = (d: ReturnType<typeof durationsFor>): number =>
      // 3 topologies x 2 targets: warm-ups, open loops (settle + measure) per rate, closed loop;
      // and meshbox with mTLS off on the full path only
      3 * (d.warmupFirstMs + d.warmupNextMs + 2 * (d.rates.length * (d.settleMs + d.measureMs) + d.measureMs)) +
      (d.warmupFirstMs + d.rates.length * (d.settleMs + d.measureMs) + d.measureMs);
    expect(total(durationsFor({ quick: false, scale: 1 }))).toBeLessThan(270_000);
    expect(total(durationsFor({ quick: true, scale: 1 }))).toBeLessThan(75_000);
    expect(durationsFor({ quick: false, scale: 1 }).rates[0]).toBe(1000);
    expect(durationsFor({ quick: false, scale: 0.5 }).measureMs).toBe(5000);
  });
});

describe('cpu probes', () => {
  const probes: ProbeResult[] = [
    { atMs: 0, opsPerMs: { '0': 100, '1': 90 } },
    { atMs: 10, opsPerMs: { '0': 80, '1': 100 } },
    { atMs: 20, opsPerMs: { '0': 95 } },
  ];
  it('takes the best probe of each core as its normal speed', () => {
    expect(bestByCore(probes)).toEqual({ '0': 100, '1': 100 });
  });
  it('gives the slowest probe relative to its core', () => {
    const best = bestByCore(probes);
    expect(slowestRatio([probes[0]!, probes[1]!], best)).toBe(0.8);
    expect(slowestRatio([probes[2]!], best)).toBe(0.95);
    expect(slowestRatio([], best)).toBe(1);
  });
});
