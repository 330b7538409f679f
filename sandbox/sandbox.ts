/**
 * Sandbox: one running mesh. Wires the pieces together and owns their lifecycle.
 *
 *   meshbox.yaml ─┐                         ┌─> runtime (processes) ─> apps
 *   rules/*.yaml ─┴─> control plane ─ push ─┴─> data plane worker: sidecars + ingress gateway
 *                       ^ registry <─ health checks, exits          │
 *                       events <────────────── request events ──────┘ ─> metrics, access log, CLI/TUI
 *
 * `up()` resolves when every workload is healthy (or throws MESH_ERR_NOT_READY); `down()` stops
 * everything it started, by PID, and can be called any number of times.
 */
import { JWKS_PATH, TokenIssuer } from './security/token-issuer.js';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadMeshFile } from './config/mesh-file.js';
import { validatePaths } from './config/validate.js';
import { FINDING_CODES } from './config/codes.js';
import type { Finding } from './config/findings.js';
import { hasErrors } from './config/findings.js';
import type { MeshDefinition } from './config/mesh-types.js';
import type { LoadedResource } from './config/resource.js';
import { AdminServer } from './admin/admin-server.js';
import { generateAdminToken } from './admin/admin-token.js';
import { installChaosRoutes } from './admin/chaos-routes.js';
import { installObserveRoutes } from './admin/observe-routes.js';
import { FaultStore } from './faults/fault-store.js';
import { fileFaults, GATEWAY_ID, listenersFor } from './control/compiler.js';
import { ControlPlane } from './control/control-plane.js';
import { HotReload } from './control/hot-reload.js';
import type { RulesLoadResult } from './config/rules-loader.js';
import { instanceId, Registry, type Instance } from './control/registry.js';
import { WorkloadManager } from './control/workload-manager.js';
import { MeshError } from './errors.js';
import { EventBus, type MeshEvent, type RequestEvent } from './events.js';
import { packageVersion, sampleMeshFile } from './paths.js';
import { createDataPlane, type DataPlane } from './proxy/data-plane.js';
import { RouteExplainer } from './proxy/routing/route-explainer.js';
import { randomSeed } from './rng.js';
import { allocateAppPorts, recordListenerPorts, releaseAppPorts } from './control/sidecar-ports.js';
import { startProcessWatchdog, type ProcessWatchdog } from './runtime/process-watchdog.js';
import type { Runtime } from './runtime/runtime.js';
import { assertRuntimeCanRun } from './runtime/runtime-support.js';
import { selectRuntime, type DockerNetworkChoice, type RuntimeChoice } from './runtime/select-runtime.js';
import { reapLeftovers, SandboxState, stateDir } from './runtime/sandbox-state.js';
import { AccessLogWriter } from './telemetry/access-log.js';
import { meshViewOf, startSandboxToxiproxyApi, type SandboxToxiproxyOptions } from './toxiproxy-api/toxiproxy-api.js';
import type { ToxiproxyServer } from './toxiproxy-api/toxiproxy-server.js';
import type { TcpConnectionRecord, TcpProxyHost } from './toxiproxy-api/tcp-proxy-host.js';
import { IstioMetrics, proxyInstances } from './telemetry/metrics.js';
import { installTraceRoutes } from './admin/trace-routes.js';
import { resolveTracingOptions, Tracing } from './telemetry/tracing/tracer.js';
import { installSecurityRoutes } from './admin/security-routes.js';
import { MeshCA } from './security/ca.js';
import { IdentityProvider, workloadCertTtlFromEnv } from './security/identity-provider.js';
import { warmUpDataPlane, type WarmUpReport } from './control/warm-up.js';
import { memoryReport } from './telemetry/memory-report.js';
import { IdleTrimmer } from './runtime/idle-trim.js';

export type { RuntimeChoice } from './runtime/select-runtime.js';

export interface SandboxOptions {
  /** meshbox.yaml; default: the bundled sample */
  config?: string;
  /** rules folder; default: the one meshbox.yaml names */
  rules?: string;
  /**
   * a mesh already built (from Kubernetes manifests, sandbox/kubernetes): used instead of reading
   * `config`; its `ruleFiles` are applied as rules; read once (no hot reload of the manifests)
   */
  mesh?: MeshDefinition;
  runtime?: RuntimeChoice;
  /** Docker runtime: pull images that are not present locally (default: never pull) */
  pull?: boolean;
  /** Docker runtime: `host` networking (Linux default) or `bridge` (Docker Desktop) */
  dockerNetwork?: DockerNetworkChoice;
  ingressHost?: string;
  ingressPort?: number;
  /**
   * Gateway server port -> the local port the ingress serves it on (`--gateway-port 31400=41400`);
   * a port not given is served on the same number, or on a free one when that is taken
   */
  gatewayPorts?: Record<number, number>;
  adminHost?: string;
  adminPort?: number;
  seed?: number;
  /** folder for per-proxy access logs; false to disable; default: <state>/<sandbox>/access */
  accessLogDir?: string | false;
  /** run the data plane on this thread (tests) */
  inProcessDataPlane?: boolean;
  /** worker threads of the data plane (`--data-plane-workers`; default meshbox.yaml `dataPlane.workers`, else one per core, at most 4) */
  dataPlaneWorkers?: number;
  /** requests per worker of the data plane's warm-up before ready (default MESHBOX_DATA_PLANE_WARMUP, else 200; 0: off) */
  warmUpRequests?: number;
  /** how long `up()` waits for every workload to be healthy */
  readyTimeoutMs?: number;
  /** hot reload of the rules folder, meshbox.yaml and watched service code (default true) */
  watch?: boolean;
  bus?: EventBus;
  /** Toxiproxy's HTTP API (sandbox/toxiproxy-api); off unless given (`meshbox up` turns it on) */
  toxiproxy?: SandboxToxiproxyOptions;
  /** tracing (default on, 100 % sampled, no exporter; meshbox.yaml `tracing:` fills what is not given); false: off */
  tracing?: { samplingPercent?: number; otlpEndpoint?: string; zipkinEndpoint?: string } | false;
}


export class Sandbox {
  readonly bus: EventBus;
  readonly seed: number;
  readonly registry = new Registry();
  readonly metrics: IstioMetrics;
  /** runtime faults, layered on the rule files' */
  readonly faults: FaultStore;
  id = '';
  mesh!: MeshDefinition;
  rulesDir: string | undefined;
  ruleFindings: Finding[] = [];
  /** hot reload (rules, meshbox.yaml, service code); undefined with `watch: false` */
  hotReload: HotReload | undefined;
  /** spans and the trace store; undefined when tracing is off */
  tracing: Tracing | undefined;
  private loadedRules: RulesLoadResult | undefined;
  ingressUrl = '';
  adminUrl = '';
  runtime!: Runtime;
  controlPlane!: ControlPlane;
  dataPlane!: DataPlane;
  workloads!: WorkloadManager;
  private readonly admin = new AdminServer();
  private toxiproxy: ToxiproxyServer | undefined;
  /** the Toxiproxy API's URL, '' when it is off */
  toxiproxyUrl = '';
  private accessLog: AccessLogWriter | undefined;
  private state: SandboxState | undefined;
  private started = false;
  private stopped: Promise<void> | undefined;
  private processWatchdog: ProcessWatchdog | undefined;
  /** the running up(), settled either way (down waits for it) */
  private upRun: Promise<void> | undefined;
  /** set when the sandbox cannot go on (the data plane is gone); it stops itself */
  fatal: MeshError | undefined;
  private readonly fatalListeners = new Set<(error: MeshError) => void>();
  private explainer: RouteExplainer | undefined;
  private trimmer: IdleTrimmer | undefined;
  /** the sandbox CA and every proxy's workload certificate (sandbox/security) */
  identity: IdentityProvider | undefined;
  /** how the data plane's warm-up before ready went (control/warm-up.ts) */
  warmUp: WarmUpReport | undefined;

  constructor(readonly options: SandboxOptions = {}) {
    this.bus = options.bus ?? new EventBus();
    this.seed = options.seed ?? randomSeed();
    this.metrics = new IstioMetrics(undefined, packageVersion(), () => (this.mesh ? proxyInstances(this.mesh, this.registry.all()) : []));
    this.faults = new FaultStore(
      this.bus,
      () => fileFaults(this.controlPlane?.appliedResources ?? []),
      () => this.faultTargets(),
    );
  }

  private notice(level: 'info' | 'warn' | 'error', message: string, hint?: string): void {
    this.bus.emit({ type: 'mesh:notice', time: Date.now(), level, message, hint });
  }

  /**
   * Starts the sandbox. A `down()` meanwhile (Ctrl-C during start-up) makes it stop at its next
   * step: down waits for that, so it stops everything up() made, and nothing starts afterwards.
   */
  up(): Promise<void> {
    const run = this.doUp();
    this.upRun = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async doUp(): Promise<void> {
    this.started = true;
    const configFile = path.resolve(this.options.mesh?.file ?? this.options.config ?? sampleMeshFile());
    this.bus.emit({ type: 'mesh:sandbox:starting', time: Date.now(), message: `starting ${configFile} (seed ${this.seed})` });
    if (!existsSync(configFile)) throw new MeshError('MESH_ERR_CONFIG_NOT_FOUND', [configFile]);
    const loaded = this.options.mesh ? { mesh: this.options.mesh, findings: [] } : await loadMeshFile(configFile);
    if (this.stopping) return;
    if (!loaded.mesh || hasErrors(loaded.findings)) {
      throw new MeshError('MESH_ERR_CONFIG_INVALID', [configFile], { findings: loaded.findings });
    }
    const mesh = loaded.mesh;
    this.mesh = mesh;
    this.id = `${mesh.name}-${randomBytes(3).toString('hex')}`;

    const resources = await this.loadRules(mesh);
    if (this.stopping) return;

    for (const r of reapLeftovers()) {
      const what = r.killed.length ? `stopped ${r.killed.join(', ')}` : 'nothing was left running';
      this.notice('warn', `sandbox ${r.sandbox} was left behind by a meshbox that died (pid ${r.ownerPid}): ${what}`);
    }
    this.state = new SandboxState(this.id, configFile);
    const selected = await selectRuntime(this.options.runtime ?? 'auto', { pull: this.options.pull, dockerNetwork: this.options.dockerNetwork, onEvent: (e) => this.bus.emit(e) });
    this.runtime = selected.runtime;
    if (this.stopping) return;
    // a service this runtime cannot run fails now, before any instance starts
    const autoFallback = (this.options.runtime ?? 'auto') === 'auto' && this.runtime.name === 'process';
    assertRuntimeCanRun(mesh, this.runtime.name, autoFallback ? `--runtime auto picked it: ${selected.notice?.split(': running workloads as processes')[0]}` : undefined);
    // processes outlive a meshbox killed with -9: a watchdog stops them (Docker has its own)
    if (this.runtime.name === 'process') this.processWatchdog = startProcessWatchdog(this.state.file);
    if (selected.notice) this.notice('info', selected.notice);
    this.workloads = new WorkloadManager({ registry: this.registry, runtime: this.runtime, bus: this.bus, mesh, sandboxId: this.id, seed: this.seed, state: this.state });

    if (this.options.accessLogDir !== false) {
      this.accessLog = new AccessLogWriter(this.options.accessLogDir ?? path.join(stateDir(), this.id, 'access'));
    }
    this.bus.on('mesh:request:end', (e) => {
      this.metrics.observe(e);
      this.accessLog?.write(e);
    });
    this.bus.on('mesh:tcp:open', (e) => this.metrics.observeTcp(e));
    this.bus.on('mesh:tcp:close', (e) => {
      this.metrics.observeTcp(e);
      this.accessLog?.writeTcp(e);
    });

    // Instances and their app ports
    for (const svc of mesh.services) {
      for (const w of svc.workloads) {
        for (let n = 1; n <= w.replicas; n++) {
          const inst: Instance = {
            id: instanceId(w, n),
            workload: w,
            ordinal: n,
            ...(await allocateAppPorts(svc)),
            sidecar: { inbound: 0, outbound: 0, services: {} },
            state: 'pending',
            healthy: false,
            drained: false,
            restarts: 0,
          };
          this.registry.add(inst);
        }
      }
    }

    if (this.stopping) return;
    // the main thread's heap goes back once the sandbox is quiet (runtime/idle-trim.ts)
    this.trimmer = new IdleTrimmer();
    this.bus.onAny(() => this.trimmer?.poke());
    // Data plane: bind every listener first, so apps can be told their sidecar ports.
    this.dataPlane = createDataPlane({
      seed: this.seed,
      inProcess: this.options.inProcessDataPlane,
      workers: this.options.dataPlaneWorkers ?? mesh.dataPlane?.workers,
      onEvents: (events) => {
        for (const e of events) this.bus.emit(e);
      },
      onExit: (error) => this.failFatally(error),
    });
    const ingress = {
      address: this.options.ingressHost ?? mesh.ingress.host,
      port: this.options.ingressPort ?? mesh.ingress.port,
      ...(this.options.gatewayPorts ? { gatewayPorts: this.options.gatewayPorts } : {}),
    };
    await this.bindListeners(mesh, ingress);
    if (this.stopping) return;

    // Workload identity: the CA under the state directory, a certificate per proxy, pushed to
    // the data plane before any rule applies, so the mesh runs mTLS from the first request.
    this.identity = await IdentityProvider.start({
      caDir: MeshCA.dirUnder(stateDir()),
      ttlMs: workloadCertTtlFromEnv(),
      push: (secrets) => this.dataPlane.setSecrets(secrets),
      notice: (level, message, hint) => this.notice(level, message, hint),
    });
    await this.identity.ensure(mesh, this.registry.all());
    // the request path is compiled by the JIT before anyone is told the mesh is ready (control/warm-up.ts)
    const warming = warmUpDataPlane(this.dataPlane, { ca: this.identity.ca, ...(this.options.warmUpRequests !== undefined ? { requests: this.options.warmUpRequests } : {}) });
    // instances added or removed (hot reload of meshbox.yaml) get or lose their certificate
    this.registry.on('change', () => {
      if (this.identity && !this.stopping) void this.identity.ensure(this.mesh, this.registry.all()).catch((e: Error) => this.notice('error', `workload certificates: ${e.message}`));
    });

    // the admin token: every state-changing admin route requires it; the CLI reads it from the file
    const adminToken = generateAdminToken();
    this.state.writeToken(adminToken);
    this.adminUrl = await this.admin.listen(this.options.adminHost ?? '127.0.0.1', this.options.adminPort ?? 15000, { token: adminToken, tokenFile: this.state.tokenFile });
    this.installAdminRoutes();
    installChaosRoutes(this.admin, { faults: this.faults, workloads: () => this.workloads, registry: this.registry });
    installTraceRoutes(this.admin, { tracing: () => this.tracing });
    installObserveRoutes(this.admin, { bus: this.bus, registry: this.registry, faults: this.faults, mesh: () => this.mesh, controlPlane: () => this.controlPlane, dataPlane: () => this.dataPlane });
    installSecurityRoutes(this.admin, { identity: () => this.identity });
    this.state.set({ adminUrl: this.adminUrl, ingressUrl: this.ingressUrl });

    this.controlPlane = new ControlPlane(mesh, this.registry, this.dataPlane, this.bus, ingress);
    await this.startTracing(mesh);
    this.faults.onChange(() => {
      void this.controlPlane.setRuntimeFaults(this.faults.runtimeFaults()).catch((e: Error) => this.notice('error', `faults not applied: ${e.message}`));
    });
    await this.controlPlane.setResources(resources, this.ruleFindings.filter((f) => f.severity === 'warning'));
    if (this.stopping) return;
    if (this.options.toxiproxy) await this.startToxiproxy(this.options.toxiproxy);
    if (this.stopping) return;

    await this.workloads.startAll();
    if (this.stopping) return;
    if (this.options.watch !== false && !this.options.mesh) await this.startHotReload(configFile, ingress);
    if (this.stopping) return;
    this.warmUp = await warming;
    if (this.stopping) return;
    this.bus.emit({ type: 'mesh:sandbox:ready', time: Date.now(), message: `ingress ${this.ingressUrl}, admin ${this.adminUrl}` });
    await this.waitReady(this.options.readyTimeoutMs ?? 30_000);
  }

  private async loadRules(mesh: MeshDefinition): Promise<readonly LoadedResource[]> {
    const explicit = this.options.rules !== undefined;
    const dir = this.options.rules ? path.resolve(this.options.rules) : mesh.rulesDir;
    this.rulesDir = dir;
    if (!explicit && mesh.ruleFiles?.length && (!dir || !existsSync(dir))) return this.applyRulePaths(mesh.ruleFiles, mesh);
    if (!dir || !existsSync(dir)) {
      if (explicit) throw new MeshError('MESH_ERR_RULES_NOT_FOUND', [dir ?? '']);
      this.notice('info', `no rules folder${dir ? ` at ${dir}` : ''}: every service gets Istio's default routing`);
      return [];
    }
    if (!statSync(dir).isDirectory()) throw new MeshError('MESH_ERR_RULES_NOT_FOUND', [dir], { hint: 'pass a folder of Istio YAML files' });
    return this.applyRulePaths([dir, ...(mesh.ruleFiles ?? [])], mesh);
  }

  private async applyRulePaths(paths: string[], mesh: MeshDefinition): Promise<readonly LoadedResource[]> {
    const result = await validatePaths(paths, { mesh });
    // the Kubernetes kinds of manifests read with -f are the mesh itself, not ignored documents
    if (mesh.ruleFiles?.length) result.findings = result.findings.filter((f) => !(f.code === FINDING_CODES.KUBERNETES_KIND_IGNORED.code && f.location && mesh.ruleFiles!.includes(f.location.file)));
    this.ruleFindings = result.findings;
    this.loadedRules = result;
    const errors = result.findings.filter((f) => f.severity === 'error');
    if (errors.length > 0) {
      this.bus.emit({ type: 'mesh:config:rejected', time: Date.now(), findings: errors });
      const skipped = result.files.filter((f) => !f.applied).map((f) => path.relative(process.cwd(), f.file) || f.file);
      this.notice('error', `not applied (fix the errors above and save again): ${skipped.join(', ')}`);
    }
    return result.resources;
  }

  private async bindListeners(mesh: MeshDefinition, ingress: { address: string; port: number }): Promise<void> {
    const { bound, errors } = await this.dataPlane.bind(listenersFor(mesh, this.registry.all(), ingress));
    const gatewayError = errors.find((e) => e.listener.startsWith(`${GATEWAY_ID}/`));
    if (gatewayError) {
      await this.dataPlane.stop(0);
      const addr = `${gatewayError.address}:${gatewayError.port}`;
      if (gatewayError.code === 'EADDRINUSE') throw new MeshError('MESH_ERR_PORT_IN_USE', ['the ingress gateway', addr, '--ingress-port']);
      throw new MeshError('MESH_ERR_LISTEN', ['the ingress gateway', addr, gatewayError.message]);
    }
    if (errors.length > 0) {
      await this.dataPlane.stop(0);
      const e = errors[0]!;
      throw new MeshError('MESH_ERR_LISTEN', [`sidecar listener ${e.listener}`, `${e.address}:${e.port}`, e.message]);
    }
    for (const b of bound) if (b.name === `${GATEWAY_ID}/http.80`) this.ingressUrl = `http://${b.address}:${b.port}`;
    recordListenerPorts(bound, (id) => this.registry.get(id));
  }

  private async startToxiproxy(o: SandboxToxiproxyOptions): Promise<void> {
    // the standalone proxies run in the data plane's workers, beside the sidecars
    const proxyHost = (onConnection?: (c: TcpConnectionRecord) => void): TcpProxyHost => this.dataPlane.standaloneProxies(onConnection);
    const deps = { seed: this.seed, proxyHost, mesh: meshViewOf(() => this.mesh, this.registry), faults: this.faults, syncFaults: () => this.controlPlane.setRuntimeFaults(this.faults.runtimeFaults()), metrics: this.metrics.registry, namespace: this.mesh.namespace };
    this.toxiproxy = await startSandboxToxiproxyApi(o, deps, (level, message, hint) => this.notice(level, message, hint));
    this.toxiproxyUrl = this.toxiproxy?.url ?? '';
  }

  /** service -> the names its instances can be selected by (version labels and DestinationRule subsets) */
  private faultTargets(): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const svc of this.mesh?.services ?? []) out.set(svc.name, new Set(svc.workloads.map((w) => w.labels['version'] ?? w.version)));
    for (const c of Object.values(this.controlPlane?.current?.clusters ?? {})) {
      if (c.service && c.subset) out.get(c.service.name)?.add(c.subset);
    }
    // the Toxiproxy API's standalone proxies take toxics too
    for (const name of this.toxiproxy?.proxies.standaloneTargets() ?? []) if (!out.has(name)) out.set(name, new Set());
    return out;
  }

  private async startHotReload(configFile: string, ingress: { address: string; port: number }): Promise<void> {
    this.hotReload = new HotReload(
      {
        bus: this.bus,
        registry: this.registry,
        workloads: this.workloads,
        dataPlane: this.dataPlane,
        controlPlane: this.controlPlane,
        ingress,
        configFile,
        rulesExplicit: this.options.rules !== undefined,
        mesh: () => this.mesh,
        onMesh: async (mesh) => {
          this.mesh = mesh;
          if (this.options.rules === undefined) this.rulesDir = mesh.rulesDir;
          // identities follow the mesh (a new trustDomain or serviceAccount): reissued, others kept
          if (this.identity && !this.stopping) await this.identity.ensure(mesh, this.registry.all()).catch((e: Error) => this.notice('error', `workload certificates: ${e.message}`));
        },
        onFindings: (findings) => (this.ruleFindings = findings),
      },
      { rulesDir: this.rulesDir, rules: this.loadedRules },
    );
    await this.hotReload.start();
  }

  /** every instance of every workload with replicas is healthy, and the data plane runs */
  isReady(): boolean {
    // not before the data plane is warm: the first requests would run through cold code
    if (this.fatal || !this.warmUp) return false;
    const all = this.registry.all();
    return all.length > 0 && all.every((i) => i.healthy && i.state === 'running');
  }

  /**
   * The sandbox cannot go on (the data-plane worker died: no sidecar, no ingress): said once,
   * `/ready` answers 503 from now on, `onFatal` listeners hear it (`meshbox up` exits with its
   * code) and the sandbox stops everything it started.
   */
  private failFatally(error: MeshError): void {
    if (this.fatal || this.stopping) return;
    this.fatal = error;
    this.notice('error', `${error.code}: ${error.message}`, error.hint);
    for (const l of this.fatalListeners) l(error);
    void this.down();
  }

  /** called once if the sandbox fails while it runs (it stops itself right after) */
  onFatal(listener: (error: MeshError) => void): () => void {
    this.fatalListeners.add(listener);
    return () => this.fatalListeners.delete(listener);
  }

  /** true once `down()` was called */
  get stopping(): boolean {
    return this.stopped !== undefined;
  }

  /** the first instance that failed for good (not restarted), with its error */
  private failedInstance(): MeshError | undefined {
    for (const i of this.registry.all()) {
      const e = this.workloads?.failureOf(i.id);
      if (e) return e;
    }
    return undefined;
  }

  /** MESH_ERR_NOT_READY saying, per instance, what is wrong: crash-looping, or what its health check sees */
  private async notReadyError(timeoutMs: number): Promise<MeshError> {
    const waiting = this.registry.all().filter((i) => !(i.healthy && i.state === 'running'));
    const diagnoses = await Promise.all(waiting.map((i) => this.workloads.diagnose(i.id)));
    const hint = diagnoses.find((d) => d.hint)?.hint;
    return new MeshError('MESH_ERR_NOT_READY', [diagnoses.map((d) => d.what).join('; '), String(Math.round(timeoutMs / 1000))], hint ? { hint } : {});
  }

  /**
   * Resolves when every workload is healthy, or at once when the sandbox is being stopped.
   * Rejects with the instance's error as soon as one cannot start for good (a missing program or
   * image), and with MESH_ERR_NOT_READY (saying what is wrong) after `timeoutMs`.
   */
  async waitReady(timeoutMs: number): Promise<void> {
    await this.waitHealthy(timeoutMs);
    // healthy in the registry is not yet routable: wait for the snapshot that carries it
    if (!this.stopping) await this.controlPlane?.settled();
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    if (this.isReady() || this.stopping) return;
    const failed = this.failedInstance();
    if (failed) throw failed;
    if (this.fatal) throw this.fatal;
    await new Promise<void>((resolve, reject) => {
      const onChange = (): void => {
        if (this.isReady()) {
          cleanup();
          resolve();
        }
      };
      const onStopping = (): void => {
        cleanup();
        resolve();
      };
      const offStopping = this.bus.on('mesh:sandbox:stopping', onStopping);
      const offFailure = this.workloads.onFailure((_id, error) => {
        cleanup();
        reject(error);
      });
      const offFatal = this.onFatal((error) => {
        cleanup();
        reject(error);
      });
      const timer = setTimeout(() => {
        cleanup();
        void this.notReadyError(timeoutMs).then(reject, reject);
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        offStopping();
        offFailure();
        offFatal();
        this.registry.off('change', onChange);
      };
      this.registry.on('change', onChange);
    });
  }

  status(): Record<string, unknown> {
    return {
      sandbox: this.id,
      config: this.mesh?.file,
      rules: this.rulesDir,
      runtime: this.runtime?.name,
      seed: this.seed,
      ingress: this.ingressUrl,
      gatewayPorts: this.controlPlane?.gatewayListeners() ?? [],
      admin: this.adminUrl,
      toxiproxy: this.toxiproxyUrl || undefined,
      ready: this.isReady(),
      snapshotVersion: this.controlPlane?.current?.version ?? 0,
      ...(this.dataPlane ? { dataPlane: { workers: this.dataPlane.workers, proxies: this.dataPlane.placement().proxies, ...(this.warmUp ? { warmUp: this.warmUp } : {}) } } : {}),
      ...(this.fatal ? { fatal: `${this.fatal.code}: ${this.fatal.message}` } : {}),
      findings: this.ruleFindings,
      reload: this.hotReload?.status(),
      instances: this.registry.all().map((i) => ({
        id: i.id,
        service: i.workload.service,
        version: i.workload.version,
        state: i.state,
        healthy: i.healthy,
        pid: i.pid,
        appPort: i.appPort,
        sidecar: i.sidecar,
        restarts: i.restarts,
        ...(i.failure ? { failure: i.failure } : {}),
      })),
    };
  }

  private installAdminRoutes(): void {
    this.admin
      .route('GET', '/ready', 'LIVE (200) once every workload is healthy and the data plane is warmed up, else 503', () => {
        const waiting = this.registry.all().filter((i) => !(i.healthy && i.state === 'running')).map((i) => `${i.id}: ${i.state}${i.state === 'running' ? ', unhealthy' : ''}${i.failure ? ` (${i.failure})` : ''}`);
        if (this.fatal) waiting.unshift(`data plane: ${this.fatal.message}`);
        else if (!this.warmUp) waiting.unshift('data plane: warming up');
        return this.isReady() ? { body: 'LIVE\n' } : { status: 503, body: `NOT READY\n${waiting.join('\n')}\n` };
      })
      .route('GET', '/metrics', 'Istio standard metrics (Prometheus text)', async () => ({ body: await this.metrics.text(), contentType: this.metrics.contentType }))
      .route('GET', '/stats/prometheus', 'same as /metrics', async () => ({ body: await this.metrics.text(), contentType: this.metrics.contentType }))
      .route('GET', '/config_dump', 'the active snapshot, its version and the applied rules', () => ({
        body: {
          version: this.controlPlane.current?.version ?? 0,
          snapshot: this.controlPlane.current,
          rules: this.controlPlane.appliedResources.map((r) => ({
            kind: r.kind,
            name: r.metadata.name,
            namespace: r.metadata.namespace,
            source: `${r.source.file}:${r.source.line}:${r.source.col}`,
            spec: r.spec,
          })),
          findings: this.ruleFindings,
          reload: this.hotReload?.status(),
        },
      }))
      .route('GET', '/clusters', "every proxy's clusters and endpoints with health and counters (?format=json, ?proxy=ID)", async (req) => {
        const data = (await this.dataPlane.clusters()) as { clusters: Array<{ proxy: string; name: string; hosts: Array<Record<string, unknown>> }> };
        const proxy = req.query.get('proxy');
        if (proxy) data.clusters = data.clusters.filter((c) => c.proxy === proxy);
        if (req.query.get('format') === 'json') return { body: data };
        // Envoy's text format, one proxy's clusters after another: <proxy>/<cluster>::<host>::<stat>::<value>
        const lines: string[] = [];
        for (const c of data.clusters) {
          for (const h of c.hosts) {
            for (const [k, v] of Object.entries(h)) if (k !== 'address') lines.push(`${c.proxy}/${c.name}::${String(h['address'])}::${k}::${String(v)}`);
          }
        }
        return { body: `${lines.join('\n')}\n` };
      })
      .route('GET', '/status', 'the sandbox at a glance', () => ({ body: this.status() }))
      .route('GET', '/memory', "meshbox's RSS, each thread's heap (main, data-plane workers) and each app process's RSS", async () => ({
        body: await memoryReport(() => this.dataPlane.memory(), this.registry.all()),
      }))
      .route('GET', JWKS_PATH, "the local token issuer's public JWKS (meshbox token), for a RequestAuthentication jwksUri", () => ({ body: TokenIssuer.local().jwks() }));
  }

  /** spans from request events, kept in the trace store and sent to the collectors (README "Tracing") */
  private async startTracing(mesh: MeshDefinition): Promise<void> {
    const opts = resolveTracingOptions(this.options.tracing, mesh.tracing);
    if (!opts) return;
    this.tracing = new Tracing(opts, () => (this.controlPlane as ControlPlane | undefined)?.current?.tracing, (level, message) => this.notice(level, message));
    this.tracing.attach(this.bus);
    await this.controlPlane.setTracing({ samplingPercent: this.tracing.samplingPercent });
  }

  /** Stops everything this sandbox started. Safe to call more than once, and after a failed up(). */
  down(): Promise<void> {
    this.stopped ??= this.doDown();
    return this.stopped;
  }

  private async doDown(): Promise<void> {
    if (!this.started) return;
    this.bus.emit({ type: 'mesh:sandbox:stopping', time: Date.now(), message: 'stopping workloads and sidecars' });
    // a start-up in progress stops at its next step: then everything it made is known
    await this.upRun;
    await this.hotReload?.close();
    this.faults.close();
    await this.toxiproxy?.close();
    await this.workloads?.stopAll();
    this.controlPlane?.close();
    this.identity?.close();
    await this.dataPlane?.stop(1_000).catch(() => undefined);
    await this.tracing?.close();
    await this.admin.close();
    await this.accessLog?.close();
    for (const i of this.registry.all()) releaseAppPorts(i);
    this.state?.remove();
    this.processWatchdog?.release();
    this.trimmer?.stop();
    this.bus.emit({ type: 'mesh:sandbox:stopped', time: Date.now(), message: 'stopped' });
  }

  /**
   * The full `why` of a request event: with one line per route skipped before the one that
   * matched, rendered now from the snapshot the request ran on (while it is kept).
   */
  explainRequest(e: RequestEvent): readonly string[] {
    this.explainer ??= new RouteExplainer((v) => (this.controlPlane as ControlPlane | undefined)?.snapshotAt(v));
    return this.explainer.why(e);
  }

  /** subscribe to every event (the CLI's printer, the TUI's view store) */
  onEvent(listener: (e: MeshEvent) => void): () => void {
    return this.bus.onAny(listener);
  }
}
