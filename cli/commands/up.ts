/**
 * `meshbox up`: start a sandbox and keep it running until Ctrl-C / SIGTERM, printing lifecycle
 * events and one line per request (the terminal UI takes over this output when it lands).
 * It runs --config, else ./meshbox.yaml, else the bundled sample, and says which.
 */
import path from 'node:path';
import { Sandbox, type RuntimeChoice } from '../../sandbox/sandbox.js';
import { findProjectMeshFile } from '../../sandbox/config/mesh-file.js';
import { sampleMeshFile } from '../../sandbox/paths.js';
import { createSandboxController } from '../tui/sandbox-controller.js';
import type { LoadTarget } from '../tui/controller.js';
import { MeshError } from '../../sandbox/errors.js';
import { DEFAULT_TOXIPROXY_PORT } from '../../sandbox/toxiproxy-api/toxiproxy-api.js';
import { EventPrinter } from '../printer.js';
import { runTui, shouldUseTui } from '../tui/run-tui.js';
import { onOutputClosed, paint, printError, printFindings, useColor, type Io } from '../output.js';
import { loadMeshFile } from '../../sandbox/config/mesh-file.js';
import { loadKubernetesMesh } from '../../sandbox/kubernetes/load.js';
import { attachDevLoop, withDevWatches } from '../../sandbox/kubernetes/dev-loop.js';
import type { MeshDefinition } from '../../sandbox/config/mesh-types.js';
import type { Finding } from '../../sandbox/config/findings.js';
import { hasErrors } from '../../sandbox/config/findings.js';
import { collectorUrl } from '../../sandbox/telemetry/tracing/exporter.js';
import { parseSamplingPercent } from '../../sandbox/telemetry/tracing/sampling.js';

export interface UpOptions {
  config?: string;
  /** `-f`: Kubernetes manifest files or folders (kustomize folders expanded) instead of meshbox.yaml */
  files?: string[];
  /** `meshbox dev`: watch the images' build contexts and the manifests' rules (sandbox/kubernetes/dev-loop.ts) */
  dev?: boolean;
  rules?: string;
  runtime: RuntimeChoice;
  /** Docker: pull missing images */
  pull?: boolean;
  dockerNetwork?: 'auto' | 'host' | 'bridge';
  headless?: boolean;
  ingressPort?: number;
  /** `--gateway-port 31400=41400`: Gateway server port -> local port */
  gatewayPorts?: Record<number, number>;
  adminPort?: number;
  seed?: number;
  accessLog?: string | false;
  logs?: boolean;
  readyTimeout?: number;
  /** hot reload (default on) */
  watch?: boolean;
  /** port of the Toxiproxy API (default 8474; given explicitly, it must be free) */
  toxiproxyPort?: number;
  /** false: no Toxiproxy API (`--no-toxiproxy-api`) */
  toxiproxyApi?: boolean;
  /** `--data-plane-workers`: worker threads running the proxies */
  dataPlaneWorkers?: number;
  /** `--trace-sampling`, `--otlp-endpoint`, `--zipkin`; false: `--no-tracing` */
  tracing?: { traceSampling?: string; otlpEndpoint?: string; zipkin?: string } | false;
}

/** the tracing flags, checked before anything starts */
export function tracingFlags(t: UpOptions['tracing']): { samplingPercent?: number; otlpEndpoint?: string; zipkinEndpoint?: string } | false | undefined {
  if (t === false || t === undefined) return t;
  let samplingPercent: number | undefined;
  if (t.traceSampling !== undefined) {
    const p = parseSamplingPercent(t.traceSampling);
    if (typeof p === 'string') throw new MeshError('MESH_ERR_USAGE', [`--trace-sampling ${p}`]);
    samplingPercent = p;
  }
  return {
    ...(samplingPercent !== undefined ? { samplingPercent } : {}),
    ...(t.otlpEndpoint ? { otlpEndpoint: collectorUrl('--otlp-endpoint', t.otlpEndpoint) } : {}),
    ...(t.zipkin ? { zipkinEndpoint: collectorUrl('--zipkin', t.zipkin) } : {}),
  };
}

/**
 * The meshbox.yaml `up` runs: --config, else ./meshbox.yaml (or .yml) of the current folder (the
 * one `meshbox validate` checks there), else the bundled sample; with a line saying which.
 */
export function chooseMeshFile(config: string | undefined, io: Io, c: ReturnType<typeof paint>, cwd: string = process.cwd()): string {
  if (config) {
    io.out(c('gray', `using ${path.resolve(config)} (--config)`));
    return config;
  }
  const local = findProjectMeshFile(cwd);
  if (local) {
    io.out(c('gray', `using ${local} (found in the current folder; --config chooses another)`));
    return local;
  }
  const sample = sampleMeshFile();
  io.out(c('gray', `no meshbox.yaml in ${cwd}: running the bundled sample ${sample} (--config chooses yours)`));
  return sample;
}

/** The banner's `try:` line: a host and path of the mesh's own Gateway routes (as the UI's load uses). */
export function tryLine(target: LoadTarget | undefined): string {
  if (!target) return 'no Gateway route yet: bind a VirtualService to a Gateway to reach it here';
  return `try: curl -H 'Host: ${target.host}' ${target.baseUrl}${target.path}`;
}

export async function runUp(opts: UpOptions, io: Io): Promise<number> {
  const color = useColor();
  const c = paint(color);
  const tracing = tracingFlags(opts.tracing);
  const config = opts.files?.length ? path.resolve(opts.files[0]!) : chooseMeshFile(opts.config, io, c);
  // ── Kubernetes manifests (issue 16): `-f`, or meshbox.yaml `kubernetes:`
  const k8s = await kubernetesMesh(opts, config, io, color);
  if (typeof k8s === 'number') return k8s;
  // ──
  const sandbox = new Sandbox({
    tracing,
    config,
    ...(k8s ? { mesh: opts.dev ? withDevWatches(k8s.mesh) : k8s.mesh, runtime: k8s.runtime } : {}),
    rules: opts.rules,
    ...(k8s ? {} : { runtime: opts.runtime }),
    pull: opts.pull,
    dockerNetwork: opts.dockerNetwork,
    ingressPort: opts.ingressPort,
    ...(opts.gatewayPorts ? { gatewayPorts: opts.gatewayPorts } : {}),
    adminPort: opts.adminPort,
    seed: opts.seed,
    accessLogDir: opts.accessLog,
    readyTimeoutMs: opts.readyTimeout,
    watch: opts.watch,
    ...(opts.dataPlaneWorkers !== undefined ? { dataPlaneWorkers: opts.dataPlaneWorkers } : {}),
    toxiproxy: opts.toxiproxyApi === false ? undefined : { port: opts.toxiproxyPort ?? DEFAULT_TOXIPROXY_PORT, explicitPort: opts.toxiproxyPort !== undefined },
  });
  // manifests: the rules (and `watch:`) hot reload of sandbox/kubernetes/dev-loop.ts, the image contexts too with `dev`
  if (k8s && opts.watch !== false) attachDevLoop(sandbox, { dev: opts.dev === true });
  // ── terminal UI (issue 6): a TTY without --headless gets the Ink UI, which starts the
  // sandbox itself and shows its start-up; everything below is the plain-line mode.
  if (shouldUseTui(opts)) return runTui(sandbox, { color, logs: opts.logs !== false }, io);
  // ──
  const printer = new EventPrinter(io, { color, logs: opts.logs });
  sandbox.onEvent((e) => printer.print(e));

  let exiting: Promise<number> | undefined;
  const shutdown = (code: number, why: string): Promise<number> => {
    if (exiting) return exiting;
    io.out(c('gray', `${why}: stopping the sandbox...`));
    exiting = sandbox.down().then(() => code);
    return exiting;
  };
  const done = new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        io.err('second signal: exiting now');
        process.exit(130);
      }
      void shutdown(sig === 'SIGINT' ? 0 : 0, sig).then(resolve);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    // `meshbox up | head`: the reader is gone, so stop as a shell pipeline expects
    onOutputClosed(() => void shutdown(0, 'output closed').then(resolve));
    // the sandbox failed while running (its data plane died): it said why and stops itself
    sandbox.onFatal((e) => void shutdown(e.exitCode, e.code).then(resolve));
    process.on('uncaughtException', (err) => {
      printError(io, err);
      void shutdown(70, 'internal error').then(resolve);
    });
  });

  try {
    await sandbox.up();
  } catch (e) {
    if (e instanceof MeshError && e.code === 'MESH_ERR_NOT_READY') {
      printError(io, e, color);
      io.out(c('yellow', 'the sandbox keeps running: fix the workloads and they join the mesh when healthy'));
    } else {
      await sandbox.down();
      return printError(io, e, color);
    }
  }
  // stopped while starting (Ctrl-C, the output closed): nothing to announce
  if (exiting) return exiting;
  const s = sandbox.status();
  io.out('');
  io.out(`${c('green', 'meshbox is up')}  sandbox ${s['sandbox']}  runtime ${s['runtime']}  seed ${sandbox.seed}`);
  io.out(`  config   ${sandbox.mesh?.file ?? path.resolve(config)}`);
  io.out(`  ingress  ${sandbox.ingressUrl}   ${tryLine(createSandboxController(sandbox).load.target())}`);
  io.out(`  admin    ${sandbox.adminUrl}   (/ready /metrics /config_dump /clusters /status)`);
  if (sandbox.toxiproxyUrl) io.out(`  toxiproxy ${sandbox.toxiproxyUrl}   (Toxiproxy API: point your Toxiproxy clients here)`);
  io.out(`  rules    ${sandbox.rulesDir ?? (sandbox.mesh?.ruleFiles?.length ? `the Istio kinds of ${sandbox.mesh.ruleFiles.length} manifest file(s)` : '(none)')}`);
  io.out(c('gray', '  Ctrl-C stops everything'));
  io.out('');
  return done;
}

/**
 * The mesh of `-f` manifests, or of a meshbox.yaml with `kubernetes:`; undefined for a plain
 * meshbox.yaml. Findings are printed; errors drop only what they concern, and the rest comes up
 * (exit code 1 when nothing is left to run).
 */
async function kubernetesMesh(opts: UpOptions, config: string, io: Io, color: boolean): Promise<{ mesh: MeshDefinition; runtime: 'process' | 'docker' } | number | undefined> {
  let source: { files: string[] } | { mesh: MeshDefinition };
  if (opts.files?.length) {
    io.out(paint(color)('gray', `reading Kubernetes manifests ${opts.files.join(', ')} (-f)`));
    const images = await companionImages(opts.config, io, color);
    if (typeof images === 'number') return images;
    source = { files: opts.files, ...(images ? { images } : {}) };
  } else {
    const loaded = await loadMeshFile(config);
    if (!loaded.mesh?.kubernetes) return undefined;
    if (loaded.mesh.kubernetes.paths.length === 0) {
      if (loaded.mesh.services.length > 0) return undefined; // `images:` only matter beside -f
      io.err(paint(color)('red', `${config} has \`images:\` but no \`services:\` and no \`kubernetes:\`: nothing to run`));
      io.err('  hint: give the manifests with `meshbox up -f DIR|FILE`, or name them in meshbox.yaml with `kubernetes: [paths]`');
      return 1;
    }
    if (hasErrors(loaded.findings)) return undefined; // the sandbox reports them
    source = { mesh: loaded.mesh };
  }
  const result = await loadKubernetesMesh(source, opts.runtime);
  const shown: Finding[] = result.findings.filter((f) => f.severity !== 'info');
  printFindings(io, shown, color);
  if (!result.mesh) {
    io.err(paint(color)('red', 'nothing to run: fix the errors above'));
    return 1;
  }
  if (hasErrors(shown)) io.err(paint(color)('yellow', 'the rest of the project comes up; what the errors above name does not'));
  return { mesh: result.mesh, runtime: result.runtime };
}

/** Beside `-f`: the `images:` (process commands) of --config or ./meshbox.yaml, when there is one. */
export async function companionImages(config: string | undefined, io: Io, color: boolean): Promise<MeshDefinition['kubernetes'] | number> {
  const companion = config ?? findProjectMeshFile();
  const loaded = companion ? await loadMeshFile(companion) : undefined;
  if (loaded && hasErrors(loaded.findings)) {
    printFindings(io, loaded.findings, color);
    return 1;
  }
  if (loaded?.mesh?.kubernetes && companion) io.out(paint(color)('gray', `using the \`images:\` of ${path.resolve(companion)}`));
  return loaded?.mesh?.kubernetes;
}
