/**
 * Options of `npm run bench` (argv after `--`, or environment variables), and the durations they
 * give. Every duration is bounded: a full run takes about 4.5 minutes, `--quick` about 1.5.
 */

export interface BenchOptions {
  quick: boolean;
  /** run the nginx scenarios when nginx is installed */
  nginx: boolean;
  /** pin the proxy to cpu0 and the apps and load generators to cpu1 with taskset */
  pin: boolean;
  /** closed-loop throughput with wrk when installed (else the Node load generator) */
  wrk: boolean;
  /** also measure meshbox's full path with mTLS off (mesh-wide PeerAuthentication DISABLE) */
  mtlsOff: boolean;
  /** the first seconds after ready, with the data plane's warm-up and without (cold-start.ts) */
  cold: boolean;
  /** throughput with 1 and 2 data-plane workers, unpinned (scaling.ts) */
  workers: boolean;
  /** multiplies the measured periods (not the warm-ups) */
  scale: number;
  /** the streaming phase: one large upload through two sidecars, RSS growth (streaming.ts) */
  streaming: boolean;
  /** its body size in MiB */
  streamingMB: number;
  /** the gRPC unary and TCP rows (grpc.ts, tcp.ts, run as their own processes) */
  protocols: boolean;
  /** write V8 CPU profiles of the meshbox process (main thread and data-plane worker) here */
  cpuProfDir: string | undefined;
  help: boolean;
}

export interface Durations {
  /** JIT warm-up of a topology before its first target is measured (closed loop) */
  warmupFirstMs: number;
  /** warm-up before the second target of a topology (its code is already warm) */
  warmupNextMs: number;
  /** each measured period: open loop at each rate, closed-loop throughput */
  measureMs: number;
  /** traffic at the target rate sent and discarded before an open-loop measurement */
  settleMs: number;
  /** length of one CPU speed probe */
  probeMs: number;
  /** open-loop rates (req/s); the first is the headline rate */
  rates: number[];
  /** the cold-start open loop: rate, length, window */
  cold: { rate: number; durationMs: number; windowMs: number };
  /** idle time after the cold-start load before the idle memory reading */
  idleMemoryWaitMs: number;
  /** longest wait for the processes to go idle between steps (backlog of an overloaded step) */
  idleWaitMaxMs: number;
  /** keep-alive connections of the open loop and of the closed loop */
  connections: number;
  /** closed-loop workers during the warm-up */
  warmupConcurrency: number;
}

export const USAGE = `usage: npm run bench [-- options]

Measures, on loopback, the sample path ingress -> caller sidecar -> caller -> callme sidecar -> callme
through meshbox (with auto mTLS, and again with mTLS off), through nginx (when installed) and
directly, and one sidecar hop in front of callme.
Prints a table and one line starting with BENCH_JSON.

options (or environment variables):
  --quick            ~1.5 min instead of ~4.5 (short warm-ups, 2.5 s periods)   MESHBOX_BENCH_QUICK=1
  --no-nginx         skip the nginx scenarios                                   MESHBOX_BENCH_NGINX=0
  --no-pin           do not pin processes to cores with taskset                 MESHBOX_BENCH_PIN=0
  --no-wrk           closed-loop throughput with the Node load generator        MESHBOX_BENCH_WRK=0
  --no-mtls-off      skip the meshbox phase with mTLS off (the mTLS cost)       MESHBOX_BENCH_MTLS_OFF=0
  --no-streaming     skip the 1 GiB streaming upload (RSS growth)             MESHBOX_BENCH_STREAMING=0
  --streaming-mb N   its body size in MiB (default 1024)                        MESHBOX_BENCH_STREAMING_MB=N
  --no-protocols     skip the gRPC unary and TCP rows (grpc.ts, tcp.ts)         MESHBOX_BENCH_PROTOCOLS=0
  --no-cold          skip the first seconds after ready (warm-up on and off)    MESHBOX_BENCH_COLD=0
  --no-workers       skip the 1 and 2 data-plane workers rows (unpinned)       MESHBOX_BENCH_WORKERS=0
  --scale X          multiply the measured periods by X (0.1..10)               MESHBOX_BENCH_SCALE=X
  --cpu-prof DIR     run meshbox under node --cpu-prof, profiles into DIR       MESHBOX_BENCH_CPU_PROF=DIR
  -h, --help         this text`;

function flag(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const value = env[name]?.trim().toLowerCase();
  if (value === undefined || value === '') return undefined;
  return !['0', 'false', 'no', 'off'].includes(value);
}

/** Parses argv (without node and script) and the environment; throws Error on a bad option. */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = {}): BenchOptions {
  const options: BenchOptions = {
    quick: flag(env, 'MESHBOX_BENCH_QUICK') ?? false,
    nginx: flag(env, 'MESHBOX_BENCH_NGINX') ?? true,
    pin: flag(env, 'MESHBOX_BENCH_PIN') ?? true,
    wrk: flag(env, 'MESHBOX_BENCH_WRK') ?? true,
    mtlsOff: flag(env, 'MESHBOX_BENCH_MTLS_OFF') ?? true,
    streaming: flag(env, 'MESHBOX_BENCH_STREAMING') ?? true,
    streamingMB: 1024,
    protocols: flag(env, 'MESHBOX_BENCH_PROTOCOLS') ?? true,
    cold: flag(env, 'MESHBOX_BENCH_COLD') ?? true,
    workers: flag(env, 'MESHBOX_BENCH_WORKERS') ?? true,
    scale: 1,
    cpuProfDir: env.MESHBOX_BENCH_CPU_PROF?.trim() || undefined,
    help: false,
  };
  let scale = env.MESHBOX_BENCH_SCALE?.trim() || undefined;
  let streamingMB = env.MESHBOX_BENCH_STREAMING_MB?.trim() || undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new Error(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--quick':
        options.quick = true;
        break;
      case '--no-nginx':
        options.nginx = false;
        break;
      case '--no-pin':
        options.pin = false;
        break;
      case '--no-wrk':
        options.wrk = false;
        break;
      case '--no-mtls-off':
        options.mtlsOff = false;
        break;
      case '--no-cold':
        options.cold = false;
        break;
      case '--no-workers':
        options.workers = false;
        break;
      case '--scale':
        scale = value();
        break;
      case '--no-streaming':
        options.streaming = false;
        break;
      case '--no-protocols':
        options.protocols = false;
        break;
      case '--streaming-mb':
        streamingMB = value();
        break;
      case '--cpu-prof':
        options.cpuProfDir = value();
        break;
      case '-h':
      case '--help':
        options.help = true;
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  if (scale !== undefined) {
    const n = Number(scale);
    if (!Number.isFinite(n) || n < 0.1 || n > 10) throw new Error(`--scale must be a number from 0.1 to 10, got "${scale}"`);
    options.scale = n;
  }
  if (streamingMB !== undefined) {
    const n = Number(streamingMB);
    if (!Number.isInteger(n) || n < 1 || n > 16384) throw new Error(`--streaming-mb must be a whole number from 1 to 16384, got "${streamingMB}"`);
    options.streamingMB = n;
  }
  return options;
}

export function durationsFor(options: Pick<BenchOptions, 'quick' | 'scale'>): Durations {
  const base = options.quick
    ? { warmupFirstMs: 3000, warmupNextMs: 1000, measureMs: 2500, settleMs: 500, probeMs: 300, idleWaitMaxMs: 5000 }
    : { warmupFirstMs: 6000, warmupNextMs: 2000, measureMs: 10_000, settleMs: 1500, probeMs: 500, idleWaitMaxMs: 12_000 };
  return {
    ...base,
    measureMs: Math.round(base.measureMs * options.scale),
    rates: [1000, 500],
    connections: 50,
    warmupConcurrency: 16,
    cold: { rate: 300, durationMs: options.quick ? 4000 : 6000, windowMs: 500 },
    idleMemoryWaitMs: 30_000,
  };
}
