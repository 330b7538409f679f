/**
 * `npm run bench`: meshbox's data plane against the same services called directly and against
 * nginx, in one run on loopback. See USAGE in options.ts and reference/perf-baseline.md for the
 * method; the table goes to stdout with one `BENCH_JSON {...}` line, progress to stderr.
 *
 * Phases, each on freshly started processes, each followed by stopping every one of them:
 *   direct   caller -> callme, and callme alone (the baselines)
 *   meshbox  `meshbox up`: ingress -> caller sidecar -> caller -> callme sidecar -> callme, and
 *            one callme inbound sidecar alone; the mesh hops run auto mTLS
 *   meshbox-no-mtls  the same full path with a mesh-wide PeerAuthentication DISABLE (the mTLS
 *            cost is the difference; TLS handshakes are counted from meshbox's /clusters)
 *   nginx    the same legs as nginx server blocks (1 worker), when nginx is installed
 *   streaming  one 1 GiB upload through two sidecars: RSS growth of `meshbox up` (streaming.ts)
 *   grpc, tcp  gRPC unary and TCP through one sidecar, direct and nginx (grpc.ts, tcp.ts; protocols.ts)
 *   cold     (after the phases) a fresh `meshbox up`, an open loop of 300 req/s from the moment
 *            /ready answers: the first seconds, with the data plane's warm-up and without
 *   workers  (after that) the full path's throughput with 1 and with 2 data-plane workers, unpinned
 * The pinned meshbox phases run one data-plane worker (`--data-plane-workers 1`): one core.
 * Per target: JIT warm-up, open loop at 1000 and 500 req/s (latency, CPU per request), closed loop
 * (throughput, CPU per request), RSS of the proxy. Before and after each phase every used core is
 * probed for speed; phases on a slowed or busy machine are marked noisy.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bestByCore, NOISY_RATIO, probeCores, slowestRatio, type ProbeResult } from './cpu-probe.js';
import { measureTarget, type MeasureContext, type TargetResult } from './measure.js';
import { findNginx, NGINX_INSTALL_HINT, type NginxInfo } from './nginx.js';
import { durationsFor, parseOptions, USAGE, type BenchOptions } from './options.js';
import { PreciseTimer } from './precise-timer.js';
import { allowedCpus } from './proc-stats.js';
import { findExecutable, hasTaskset, pin, ProcessSet } from './processes.js';
import { compare, derive, formatReport, goals, jsonLine, mtlsCost, noiseVerdict, type ScenarioRun } from './report.js';
import { formatStreaming, runStreaming, type StreamingResult } from './streaming.js';
import { formatProtocols, runProtocolBenches, type ProtocolRun } from './protocols.js';
import { checkTarget, httpGet, startDirect, startMeshbox, startNginx, type Placement, type StartContext, type Topology, type TopologyKind } from './topology.js';
import { measureColdStart } from './cold-start.js';
import { measureWorkers, type WorkersRow } from './scaling.js';
import { formatCold, formatMemory, formatWorkers, readMemory, type ColdRun, type MemoryReading } from './extra-report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const T0 = performance.now();

function log(line: string): void {
  process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(5)}s] ${line}\n`);
}

interface PhaseRecord {
  kind: TopologyKind;
  probes: ProbeResult[];
  runs: Array<ScenarioRun & { foreign: number[] }>;
  info?: Record<string, unknown>;
  error?: string;
}

function toolVersion(file: string | undefined, args: string[], pattern: RegExp): string | undefined {
  if (!file) return undefined;
  try {
    const run = spawnSync(file, args, { encoding: 'utf8', timeout: 5000 });
    return pattern.exec(`${run.stdout ?? ''}${run.stderr ?? ''}`)?.[1];
  } catch {
    return undefined;
  }
}

/** The commit measured, with `+dirty` when the work tree differs from it. */
function gitRevision(): string | undefined {
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', timeout: 5000 });
  if (head.status !== 0) return undefined;
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8', timeout: 5000 });
  return `${head.stdout.trim()}${dirty.stdout?.trim() ? '+dirty' : ''}`;
}

function cpuModel(): string {
  try {
    return /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  } catch {
    return os.cpus()[0]?.model ?? 'unknown';
  }
}

/** the mesh hops of the full path run mTLS in the meshbox phase and plaintext in the mTLS-off one */
function checkMtls(name: string, mtls: boolean, counters: { handshakes: number }): void {
  if (mtls && counters.handshakes === 0) throw new Error(`${name}: a request went through without any TLS handshake: auto mTLS is not on`);
  if (!mtls && counters.handshakes > 0) throw new Error(`${name}: ${counters.handshakes} TLS handshakes with a mesh-wide PeerAuthentication DISABLE: mTLS is not off`);
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    log(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (process.platform !== 'linux') {
    log('bench: Linux only (CPU and memory come from /proc)');
    return 2;
  }
  for (const file of ['dist/cli/main.js', 'dist/sample-services/caller/main.js', 'dist/sample-services/callme/main.js']) {
    if (!existsSync(path.join(ROOT, file))) {
      log(`bench: ${file} is missing: run \`npm run build\` (npm run bench does)`);
      return 2;
    }
  }

  const durations = durationsFor(options);
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const revision = gitRevision();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-bench-'));
  const processes = new ProcessSet(dir);
  const abort = new AbortController();
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) {
      log(`bench: second ${sig}: killing what is left and exiting`);
      process.exit(130); // the exit hook of ProcessSet SIGKILLs every tracked pid
    }
    interrupted = true;
    log(`bench: ${sig}: stopping (measurements in flight are cut, every started process is stopped)...`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  const notes: string[] = [];
  const cpus = os.availableParallelism();
  const allowed = allowedCpus();
  // every cpu this run may use, before the benchmark pins itself (the unpinned workers rows)
  const allCpus = [...allowed];
  const cold: ColdRun[] = [];
  let workerRows: WorkersRow[] = [];
  let memory: MemoryReading | undefined;
  let placement: Placement = {};
  if (options.pin && allowed.length >= 2 && hasTaskset()) {
    // the proxy alone on the first allowed cpu; apps, load generators (this process) on the second
    placement = { proxyCpus: String(allowed[0]), restCpus: String(allowed[1]) };
    pin(process.pid, placement.restCpus!);
  } else if (options.pin) {
    notes.push(allowed.length < 2 ? 'one core only: nothing pinned, proxy, apps and load share it' : 'taskset not found: nothing pinned (install util-linux)');
  }
  const pinned = placement.proxyCpus !== undefined;
  // meshbox pinned to one core runs one data-plane worker
  const onePinnedWorker = pinned ? { workers: 1 } : {};
  const probeCoresList = pinned ? [allowed[0]!, allowed[1]!] : [];

  let nginx: NginxInfo | undefined;
  if (options.nginx) {
    nginx = findNginx();
    if (!nginx) {
      log(`bench: ${NGINX_INSTALL_HINT}`);
      notes.push(NGINX_INSTALL_HINT);
    }
  }
  const wrk = options.wrk ? findExecutable('wrk') : undefined;
  if (options.wrk && !wrk) notes.push('wrk not found (apt-get install wrk): closed-loop throughput by the Node load generator, which may itself be the limit');
  const wrkVersion = toolVersion(wrk, ['-v'], /wrk (\S+)/);

  const meshboxNodeArgs: string[] = [];
  if (options.cpuProfDir) meshboxNodeArgs.push('--cpu-prof', '--cpu-prof-dir', path.resolve(options.cpuProfDir));

  const ctx: StartContext = { root: ROOT, dir, processes, placement, meshboxNodeArgs, signal: abort.signal };
  const timer = new PreciseTimer();
  const kinds: TopologyKind[] = ['direct', 'meshbox', ...(options.mtlsOff ? (['meshbox-no-mtls'] as const) : []), ...(nginx ? (['nginx'] as const) : [])];
  const phases: PhaseRecord[] = [];
  let streaming: StreamingResult | { error: string } | undefined;
  let protocols: ProtocolRun[] = [];
  const allProbes: ProbeResult[] = [];
  const targetS = (durations.rates.length * (durations.settleMs + durations.measureMs) + durations.measureMs) / 1000;
  const estimateS =
    kinds.reduce((sum, k) => sum + 5 + durations.warmupFirstMs / 1000 + targetS + (k === 'meshbox-no-mtls' ? 0 : durations.warmupNextMs / 1000 + targetS), 0) +
    (options.cold ? 2 * (8 + durations.cold.durationMs / 1000) : 0) +
    (options.workers ? 2 * (8 + durations.warmupNextMs / 1000 + 1 + durations.measureMs / 1000) : 0) +
    (options.streaming ? 10 + options.streamingMB / 200 : 0) +
    (options.protocols ? (options.quick ? 20 : 60) : 0);
  log(`bench: ${options.quick ? 'quick' : 'full'} run, about ${Math.round(estimateS / 10) * 10} s; phases ${[...kinds, ...(options.streaming ? ['streaming'] : []), ...(options.protocols ? ['grpc', 'tcp'] : [])].join(', ')}; work folder ${dir}`);

  try {
    let probe = await probeCores(probeCoresList, durations.probeMs, pinned, started);
    allProbes.push(probe);
    for (const kind of kinds) {
      if (abort.signal.aborted) break;
      const phase: PhaseRecord = { kind, probes: [probe], runs: [] };
      phases.push(phase);
      log(`bench: phase ${kind}: starting`);
      let topology: Topology | undefined;
      try {
        topology =
          kind === 'direct'
            ? await startDirect(ctx)
            : kind === 'meshbox'
              ? await startMeshbox(ctx, { ...onePinnedWorker })
              : kind === 'meshbox-no-mtls'
                ? await startMeshbox(ctx, { mtls: false, ...onePinnedWorker })
                : await startNginx(ctx, nginx!);
        phase.info = topology.info;
        const mctx: MeasureContext = {
          processes,
          durations,
          proxyPids: topology.proxyPids,
          appPids: topology.appPids,
          ...(topology.threadPid !== undefined ? { threadPid: topology.threadPid } : {}),
          ...(wrk ? { wrk } : {}),
          ...(topology.tlsCounters ? { tlsCounters: topology.tlsCounters } : {}),
          signal: abort.signal,
          timer,
          log,
        };
        const paths = topology.paths ?? ['full', 'single'];
        for (const [pathKind, target, warmupMs] of [
          ['full', topology.full, durations.warmupFirstMs],
          ['single', topology.single, durations.warmupNextMs],
        ] as const) {
          if (abort.signal.aborted) break;
          if (!paths.includes(pathKind)) continue;
          const run: ScenarioRun & { foreign: number[] } = { topology: kind, path: pathKind, legs: target.legs, noise: noiseVerdict(1, [], NOISY_RATIO), foreign: [] };
          phase.runs.push(run);
          try {
            await checkTarget(`${kind} ${pathKind}`, target);
            if (pathKind === 'full' && topology.tlsCounters && topology.mtls !== undefined) checkMtls(`${kind} ${pathKind}`, topology.mtls, await topology.tlsCounters());
            const result: TargetResult = await measureTarget(mctx, `${kind} ${pathKind}`, target, warmupMs);
            run.result = result;
            run.foreign = [...result.open.map((o) => o.cpu.foreignCores), ...(result.closed ? [result.closed.cpu.foreignCores] : [])];
          } catch (err) {
            run.error = (err as Error).message;
            log(`bench: ${kind} ${pathKind} failed: ${run.error}`);
          }
        }
      } catch (err) {
        phase.error = (err as Error).message;
        log(`bench: phase ${kind} failed: ${phase.error}`);
        for (const pathKind of kind === 'meshbox-no-mtls' ? (['full'] as const) : (['full', 'single'] as const)) {
          if (!phase.runs.some((r) => r.path === pathKind)) {
            phase.runs.push({ topology: kind, path: pathKind, legs: kind === 'direct' ? 0 : pathKind === 'full' ? 4 : 1, error: phase.error, noise: noiseVerdict(1, [], NOISY_RATIO), foreign: [] });
          }
        }
      } finally {
        if (topology) {
          log(`bench: phase ${kind}: stopping`);
          await topology.stop();
        }
      }
      probe = await probeCores(probeCoresList, durations.probeMs, pinned, started);
      allProbes.push(probe);
      phase.probes.push(probe);
    }
    if (options.protocols && !abort.signal.aborted) {
      protocols = await runProtocolBenches({ quick: options.quick, nginx: !!nginx, signal: abort.signal, log });
    }
    if (options.streaming && !abort.signal.aborted) {
      log(`bench: phase streaming: ${options.streamingMB} MiB through two sidecars`);
      try {
        streaming = await runStreaming(ctx, options.streamingMB, log);
      } catch (err) {
        streaming = { error: (err as Error).message };
        log(`bench: phase streaming failed: ${streaming.error}`);
      }
    }
    if (options.cold && !abort.signal.aborted) {
      // the first seconds after ready: with the data plane's warm-up (default) and without it
      for (const [label, env] of [
        ['warm-up on (the default)', {}],
        ['warm-up off (MESHBOX_DATA_PLANE_WARMUP=0)', { MESHBOX_DATA_PLANE_WARMUP: '0' }],
      ] as const) {
        if (abort.signal.aborted) break;
        log(`bench: cold start, ${label}: starting`);
        const run: ColdRun = { label };
        cold.push(run);
        let topology: Topology | undefined;
        try {
          topology = await startMeshbox(ctx, { ...onePinnedWorker, env, label: `meshbox-cold-${cold.length}` });
          const admin = `http://127.0.0.1:${String((topology.info as { adminPort: number }).adminPort)}`;
          const atReady = await readMemory(admin);
          run.result = await measureColdStart(topology.full, { ...durations.cold, connections: durations.connections, timer, signal: abort.signal });
          const status = JSON.parse((await httpGet(`${admin}/status`)).body) as { dataPlane?: { warmUp?: unknown } };
          run.result.warmUp = status.dataPlane?.warmUp ?? null;
          if (cold.length === 1 && !abort.signal.aborted) {
            // the memory of the sample mesh per component: at ready, right after the load, and idle
            // once meshbox had time to give back what the load made it grow (runtime/idle-trim.ts)
            const afterLoad = await readMemory(admin);
            log(`  cold start: ${durations.idleMemoryWaitMs / 1000} s idle for the memory reading`);
            await new Promise((r) => setTimeout(r, durations.idleMemoryWaitMs));
            memory = { atReady, afterLoad, idle: await readMemory(admin), idleAfterMs: durations.idleMemoryWaitMs };
          }
        } catch (err) {
          run.error = (err as Error).message;
          log(`bench: cold start ${label} failed: ${run.error}`);
        } finally {
          await topology?.stop();
        }
      }
    }
    if (options.workers && !abort.signal.aborted && allCpus.length >= 2) {
      const base = { processes, durations, ...(wrk ? { wrk } : {}), signal: abort.signal, timer, log };
      workerRows = await measureWorkers(ctx, base, allCpus.join(','), [1, 2]);
    }
  } finally {
    await processes.stopAll();
    await timer.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }

  // noise: each phase against the best probe of each core over the whole run
  const best = bestByCore(allProbes);
  const runs: ScenarioRun[] = [];
  for (const phase of phases) {
    const ratio = slowestRatio(phase.probes, best);
    for (const run of phase.runs) {
      const { foreign, ...rest } = run;
      runs.push({ ...rest, noise: noiseVerdict(ratio, foreign, NOISY_RATIO) });
    }
  }
  // order: full paths, then single hops
  const order = (r: ScenarioRun): number => (r.path === 'full' ? 0 : 10) + ['direct', 'meshbox', 'meshbox-no-mtls', 'nginx'].indexOf(r.topology);
  runs.sort((a, b) => order(a) - order(b));
  const headlineRate = durations.rates[0]!;
  const derived = derive(runs);
  const comparisons = compare(derived, headlineRate);
  const mtls = mtlsCost(derived);
  const g = goals(comparisons, mtls, headlineRate);
  const elapsedS = (performance.now() - started) / 1000;

  const placementText = pinned
    ? `proxy (all threads of \`meshbox up\` / nginx master+worker) pinned to cpu${placement.proxyCpus}; apps, load generator and wrk on cpu${placement.restCpus}`
    : 'not pinned';
  const header = [
    `meshbox benchmark ${startedAt}  (${options.quick ? 'quick' : 'full'} run, ${elapsedS.toFixed(0)} s)${revision ? `  commit ${revision}` : ''}`,
    `machine: ${cpuModel()}, ${cpus} cores; node ${process.version}; nginx ${nginx ? nginx.version : 'not installed'}; throughput by ${wrk ? `wrk ${wrkVersion ?? ''} -t1` : 'Node load generator'} with ${durations.connections} connections`,
    `placement: ${placementText}`,
    `method: ${durations.warmupFirstMs / 1000} s warm-up; open loop ${durations.rates.join(' and ')} req/s over ${durations.connections} connections (latency from the scheduled send time); closed loop; ${(durations.measureMs / 1000).toFixed(1)} s measured each`,
    `cpu probes (ops/ms by core, per phase boundary): ${allProbes.map((p) => Object.entries(p.opsPerMs).map(([c, v]) => `${c}:${v}`).join(' ')).join(' | ')}`,
  ];
  notes.push(
    'legs = proxy legs crossed; added ms/leg = (p - direct p of the same path) / legs; CPU µs/req = proxy process CPU (all threads) / requests, at max throughput | at the headline rate',
    'meshbox runs as `meshbox up --runtime process --headless --no-logs --no-access-log` on a generated meshbox.yaml (1 caller, 1 callme; rules: a Gateway and its VirtualService only, no retries, timeouts or splits); its CPU includes the main thread (telemetry, printed request lines)',
    'mTLS: the meshbox rows run auto mTLS on the mesh hops (gateway -> caller, caller -> callme: every leg of the full path is a TLS client or server); "mTLS off" adds a mesh-wide PeerAuthentication DISABLE. The single hop is the benchmark\'s plaintext client to callme\'s inbound (PERMISSIVE), the same either way. Handshakes are the TLS connections the proxies opened during a step (settle traffic included), from meshbox\'s /clusters',
    'a NOISY row ran while a core probed below 85% of its best speed of the run or other processes used > 0.25 cores: do not compare it',
  );
  const report = formatReport({ header, headlineRate, rates: durations.rates, notes }, derived, comparisons, g, mtls);
  process.stdout.write(`${report}\n`);
  if (streaming) process.stdout.write(`\n${formatStreaming(streaming)}\n`);
  if (protocols.length > 0) process.stdout.write(`\n${formatProtocols(protocols)}\n`);
  for (const extra of [formatCold(cold), formatMemory(memory), formatWorkers(workerRows)]) if (extra) process.stdout.write(`\n${extra}\n`);

  const failed: Array<{ error?: string }> = [...runs.filter((r) => r.error), ...cold.filter((c) => c.error), ...workerRows.filter((w) => w.error)];
  if (streaming && ('error' in streaming) && streaming.error) failed.push(streaming);
  failed.push(...protocols.filter((p) => p.error));
  const json = {
    version: 1 as const,
    startedAt,
    revision: revision ?? null,
    elapsedS,
    interrupted,
    options,
    durations,
    machine: { cpus, cpuModel: cpuModel(), node: process.version, platform: `${os.type()} ${os.release()}` },
    tools: { nginx: nginx ? { path: nginx.path, version: nginx.version } : null, wrk: wrk ? { path: wrk, version: wrkVersion ?? null } : null, throughputTool: wrk ? 'wrk' : 'node' },
    placement: pinned ? { proxy: placement.proxyCpus, rest: placement.restCpus } : null,
    probes: allProbes,
    probeBest: best,
    phases: phases.map((p) => ({ kind: p.kind, info: p.info ?? null, error: p.error ?? null })),
    scenarios: derived,
    raw: runs.map((r) => ({ id: `${r.topology}-${r.path}`, noise: r.noise, result: r.result ?? null, error: r.error ?? null })),
    comparisons,
    mtls: mtls ?? null,
    goals: g,
    streaming: streaming ?? null,
    protocols: protocols.map((p) => ({ name: p.name, ...(p.json ? { result: p.json } : {}), ...(p.table ? { table: p.table } : {}), ...(p.error ? { error: p.error } : {}) })),
    coldStart: cold,
    workers: workerRows,
    memory: memory ?? null,
    notes,
  };
  process.stdout.write(`${jsonLine(json)}\n`);

  const left = processes.running();
  if (left.length) log(`bench: still running after teardown (killed at exit): ${left.map((p) => `${p.name} ${p.pid}`).join(', ')}`);
  if (!interrupted && failed.length === 0) rmSync(dir, { recursive: true, force: true });
  else log(`bench: logs of the run kept in ${dir}`);
  if (interrupted) return 130;
  return failed.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`bench: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
