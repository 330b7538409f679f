import { describe, expect, it } from 'vitest';
import { allowedCpus, cpuDelta, parseCpuList, parseProcStat, parseProcStatus, parseSystemStat, sumCpu, ticksPerSecond, type CpuSnapshot } from '../../bench/proc-stats.js';

// a real line from /proc/<pid>/stat of a node process, with a command name holding a space and ')'
const STAT = '4242 (node (x) y) S 4200 4242 4200 34816 4242 4194304 11593 0 0 0 731 122 5 7 20 0 11 0 123456 1100140544 23456 18446744073709551615 1 1 0 0 0 0 0 16781312 134234626 0 0 0 17 1 0 0 0 0 0';

describe('parseProcStat', () => {
  it('reads the fields after the last parenthesis', () => {
    expect(parseProcStat(STAT)).toEqual({ pid: 4242, comm: 'node (x) y', state: 'S', ppid: 4200, utime: 731, stime: 122, cutime: 5, cstime: 7, numThreads: 11 });
  });
  it('refuses text that is not a stat line', () => {
    expect(() => parseProcStat('hello')).toThrow(/not a \/proc stat line/);
    expect(() => parseProcStat('1 (x) S')).toThrow(/field 4/);
  });
});

describe('parseProcStatus', () => {
  it('reads VmRSS and VmHWM in bytes', () => {
    const text = 'Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t  81920 kB\nVmRSS:\t  65536 kB\nThreads:\t11\n';
    expect(parseProcStatus(text)).toEqual({ rssBytes: 65536 * 1024, hwmBytes: 81920 * 1024 });
  });
  it('gives 0 for a kernel thread without memory lines', () => {
    expect(parseProcStatus('Name:\tkthreadd\n')).toEqual({ rssBytes: 0, hwmBytes: 0 });
  });
});

describe('parseSystemStat', () => {
  it('sums busy, interrupt and total ticks per cpu line', () => {
    const text = ['cpu  100 5 50 1000 10 1 2 3 0 0', 'cpu0 60 0 30 500 5 1 1 2 0 0', 'cpu1 40 5 20 500 5 0 1 1 0 0', 'intr 12345', 'ctxt 999'].join('\n');
    const stat = parseSystemStat(text);
    expect(Object.keys(stat)).toEqual(['cpu', 'cpu0', 'cpu1']);
    expect(stat.cpu).toEqual({ busy: 155, irq: 3, steal: 3, total: 1171 });
    expect(stat.cpu1).toEqual({ busy: 65, irq: 1, steal: 1, total: 572 });
  });
});

describe('cpuDelta', () => {
  it('gives per-process seconds, reaped children and core busy fractions over a window', () => {
    const tick = ticksPerSecond();
    const before: CpuSnapshot = {
      at: 1000,
      processes: new Map([
        [1, 10],
        [2, 5],
        [3, 1],
      ]),
      user: new Map([
        [1, 8],
        [2, 4],
        [3, 1],
      ]),
      selfChildren: 2,
      system: { cpu: { busy: 0, irq: 0, steal: 0, total: 0 }, cpu0: { busy: 0, irq: 0, steal: 0, total: 0 } },
    };
    const after: CpuSnapshot = {
      at: 3000,
      processes: new Map([
        [1, 11.5],
        [2, 5.25],
      ]),
      user: new Map([
        [1, 9],
        [2, 4],
      ]),
      selfChildren: 2.5,
      system: { cpu: { busy: 3 * tick, irq: 0.5 * tick, steal: 0, total: 4 * tick }, cpu0: { busy: 1 * tick, irq: 0, steal: 0, total: 2 * tick } },
    };
    const delta = cpuDelta(before, after);
    expect(delta.wallSeconds).toBe(2);
    expect([...delta.processes]).toEqual([
      [1, 1.5],
      [2, 0.25],
    ]);
    expect(delta.reapedChildren).toBe(0.5);
    expect(delta.machineBusy).toBe(3);
    expect(delta.machineIrq).toBe(0.5);
    expect(delta.coreBusy).toEqual({ cpu0: 0.5 });
    expect(sumCpu(delta, [1, 2, 2, 3])).toBe(1.75);
    expect(sumCpu(delta, [1, 2], 'user')).toBe(1);
  });
});

describe('cpu lists', () => {
  it('parses ranges and single cpus', () => {
    expect(parseCpuList('0-3,6,8-9\n')).toEqual([0, 1, 2, 3, 6, 8, 9]);
    expect(parseCpuList('1')).toEqual([1]);
    expect(parseCpuList('')).toEqual([]);
  });
  it('reads the cpus this process may use', () => {
    expect(allowedCpus().length).toBeGreaterThan(0);
  });
});
