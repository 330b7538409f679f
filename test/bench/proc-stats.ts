/**
 * CPU and memory of processes from Linux's /proc, for the benchmark.
 *
 * CPU is user + system time in clock ticks (`/proc/<pid>/stat` fields 14 and 15, one tick is
 * 1/CLK_TCK s, 10 ms on Linux); the benchmark takes the difference over a measured window and
 * divides by the requests of that window. Memory is VmRSS (resident now) and VmHWM (peak resident)
 * from `/proc/<pid>/status`. The parsers are pure (text in, numbers out) so they are unit tested;
 * the readers return undefined when a process is gone instead of throwing.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** the executable's name as the kernel shows it (at most 15 characters) */
  comm: string;
  state: string;
  ppid: number;
  /** user time in clock ticks */
  utime: number;
  /** system time in clock ticks */
  stime: number;
  /** user time of waited-for children, in clock ticks */
  cutime: number;
  /** system time of waited-for children, in clock ticks */
  cstime: number;
  numThreads: number;
}

/**
 * Parses one `/proc/<pid>/stat` (or `/proc/<pid>/task/<tid>/stat`) line. The command name sits in
 * parentheses and may itself hold spaces and parentheses, so the fields are counted from the last
 * `)`.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${JSON.stringify(text.slice(0, 80))}`);
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // fields after the command, numbered as in proc(5): [0] is field 3 (state)
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const field = (n: number): number => {
    const value = Number(rest[n - 3]);
    if (!Number.isFinite(value)) throw new Error(`/proc stat field ${n} is not a number in ${JSON.stringify(text.slice(0, 80))}`);
    return value;
  };
  return {
    pid,
    comm,
    state: rest[0] ?? '?',
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
    numThreads: field(20),
  };
}

export interface ProcMemory {
  /** resident set size now, in bytes */
  rssBytes: number;
  /** peak resident set size, in bytes */
  hwmBytes: number;
}

/** Reads VmRSS and VmHWM (in kB in the file) from a `/proc/<pid>/status` text. */
export function parseProcStatus(text: string): ProcMemory {
  const kb = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+)\\s*kB`, 'm').exec(text);
    return match ? Number(match[1]) * 1024 : 0;
  };
  return { rssBytes: kb('VmRSS'), hwmBytes: kb('VmHWM') };
}

/** Busy and total ticks of one line of /proc/stat (`cpu` or `cpuN`). */
export interface CpuTimes {
  /** user + nice + system: time spent running processes */
  busy: number;
  /** irq + softirq: interrupt work (loopback networking shows up here) */
  irq: number;
  steal: number;
  /** every column but guest time */
  total: number;
}

/** Parses the `cpu` and `cpuN` lines of /proc/stat, keyed `cpu`, `cpu0`, `cpu1`, ... */
export function parseSystemStat(text: string): Record<string, CpuTimes> {
  const out: Record<string, CpuTimes> = {};
  for (const line of text.split('\n')) {
    const match = /^(cpu\d*)\s+(.*)$/.exec(line);
    if (!match) continue;
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = match[2]!.trim().split(/\s+/).map(Number);
    out[match[1]!] = { busy: user + nice + system, irq: irq + softirq, steal, total: user + nice + system + idle + iowait + irq + softirq + steal };
  }
  return out;
}

/** Parses a kernel cpu list such as "0-3,6,8-9" into cpu numbers. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (let cpu = from; cpu <= to && out.length < 4096; cpu++) out.push(cpu);
  }
  return out;
}

/** The cpus this process may run on (Cpus_allowed_list of /proc/self/status). */
export function allowedCpus(): number[] {
  const match = /^Cpus_allowed_list:\s*(.+)$/m.exec(readText('/proc/self/status') ?? '');
  return match ? parseCpuList(match[1]!) : [];
}

let clockTicks: number | undefined;

/** Clock ticks per second (CLK_TCK), from `getconf`; 100 when it cannot be asked. */
export function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 }).trim());
      clockTicks = Number.isFinite(value) && value > 0 ? value : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export function readProcStat(pid: number): ProcStat | undefined {
  const text = readText(`/proc/${pid}/stat`);
  return text === undefined ? undefined : parseProcStat(text);
}

export function readProcMemory(pid: number): ProcMemory | undefined {
  const text = readText(`/proc/${pid}/status`);
  return text === undefined ? undefined : parseProcStatus(text);
}

/** CPU seconds (user + system) a process has used so far; undefined when it is gone. */
export function readCpuSeconds(pid: number): number | undefined {
  const stat = readProcStat(pid);
  return stat === undefined ? undefined : (stat.utime + stat.stime) / ticksPerSecond();
}

/** CPU seconds of every thread of a process, by thread id. */
export function readThreadCpuSeconds(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const text = readText(`/proc/${pid}/task/${tid}/stat`);
    if (text === undefined) continue;
    const stat = parseProcStat(text);
    out.set(Number(tid), (stat.utime + stat.stime) / ticksPerSecond());
  }
  return out;
}

/** Pids whose parent is `ppid` (for example nginx's workers under its master). */
export function childPids(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readText(`/proc/${entry}/stat`);
    if (stat === undefined) continue;
    try {
      if (parseProcStat(stat).ppid === ppid) out.push(Number(entry));
    } catch {
      // a process that vanished mid-read
    }
  }
  return out;
}

export function readSystemStat(): Record<string, CpuTimes> {
  return parseSystemStat(readText('/proc/stat') ?? '');
}

/** True when a process with this pid exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

/** The command line of a process as one string (arguments joined by spaces), or undefined. */
export function readCmdline(pid: number): string | undefined {
  const text = readText(`/proc/${pid}/cmdline`);
  return text === undefined ? undefined : text.split('\0').filter(Boolean).join(' ');
}

/**
 * A snapshot of CPU usage over a group of processes: take one before a measured window and one
 * after, then `cpuDelta` gives seconds of CPU each used in between.
 */
export interface CpuSnapshot {
  at: number;
  /** CPU seconds by pid (processes gone at the time are missing) */
  processes: Map<number, number>;
  /** of which user time, by pid */
  user: Map<number, number>;
  /** CPU seconds of this process's waited-for children (wrk, once it has exited) */
  selfChildren: number;
  system: Record<string, CpuTimes>;
}

export function cpuSnapshot(pids: Iterable<number>): CpuSnapshot {
  const processes = new Map<number, number>();
  const user = new Map<number, number>();
  const tick = ticksPerSecond();
  for (const pid of new Set(pids)) {
    const stat = readProcStat(pid);
    if (stat === undefined) continue;
    processes.set(pid, (stat.utime + stat.stime) / tick);
    user.set(pid, stat.utime / tick);
  }
  const self = readProcStat(process.pid);
  return {
    at: performance.now(),
    processes,
    user,
    selfChildren: self ? (self.cutime + self.cstime) / ticksPerSecond() : 0,
    system: readSystemStat(),
  };
}

export interface CpuDelta {
  wallSeconds: number;
  /** CPU seconds by pid, for pids present in both snapshots */
  processes: Map<number, number>;
  /** of which user time (the rest is system time: syscalls, loopback TCP) */
  user: Map<number, number>;
  /** CPU of children of this process that ended in the window */
  reapedChildren: number;
  /** busy seconds of the whole machine (user + nice + system, all cores) */
  machineBusy: number;
  /** interrupt seconds of the whole machine (irq + softirq) */
  machineIrq: number;
  machineSteal: number;
  /** busy fraction per core (0..1), keyed cpu0, cpu1, ... */
  coreBusy: Record<string, number>;
}

export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuDelta {
  const tick = ticksPerSecond();
  const processes = new Map<number, number>();
  const user = new Map<number, number>();
  for (const [pid, seconds] of after.processes) {
    const start = before.processes.get(pid);
    if (start === undefined) continue;
    processes.set(pid, Math.max(0, seconds - start));
    user.set(pid, Math.max(0, (after.user.get(pid) ?? 0) - (before.user.get(pid) ?? 0)));
  }
  const diff = (key: string, field: keyof CpuTimes): number => ((after.system[key]?.[field] ?? 0) - (before.system[key]?.[field] ?? 0)) / tick;
  const coreBusy: Record<string, number> = {};
  for (const key of Object.keys(after.system)) {
    if (key === 'cpu') continue;
    const total = diff(key, 'total');
    coreBusy[key] = total > 0 ? (diff(key, 'busy') + diff(key, 'irq') + diff(key, 'steal')) / total : 0;
  }
  return {
    wallSeconds: (after.at - before.at) / 1000,
    processes,
    user,
    reapedChildren: Math.max(0, after.selfChildren - before.selfChildren),
    machineBusy: diff('cpu', 'busy'),
    machineIrq: diff('cpu', 'irq'),
    machineSteal: diff('cpu', 'steal'),
    coreBusy,
  };
}

/** Sum of the CPU seconds (or of the user seconds) of some pids in a delta (missing pids count 0). */
export function sumCpu(delta: CpuDelta, pids: Iterable<number>, which: 'total' | 'user' = 'total'): number {
  const map = which === 'user' ? delta.user : delta.processes;
  let total = 0;
  for (const pid of new Set(pids)) total += map.get(pid) ?? 0;
  return total;
}
