/**
 * The SandboxController of a real Sandbox. Reads are cheap (the registry, the control plane's
 * applied resources) and safe before `up()` has got that far: the UI opens at once and shows the
 * sandbox coming up.
 */
import type { LoadedResource } from '../../sandbox/config/resource.js';
import type { Gateway, VirtualService } from '../../sandbox/config/resource.js';
import type { ControlPlane } from '../../sandbox/control/control-plane.js';
import type { WorkloadManager } from '../../sandbox/control/workload-manager.js';
import { MeshError } from '../../sandbox/errors.js';
import { sampleMeshFile } from '../../sandbox/paths.js';
import type { Runtime } from '../../sandbox/runtime/runtime.js';
import type { Sandbox } from '../../sandbox/sandbox.js';
import type { LoadTarget, SandboxController, WorkloadControl } from './controller.js';
import { IngressLoad } from './ingress-load.js';

/** The bundled sample's caller answers here; other meshes get their gateway route's own prefix. */
const SAMPLE_PATH = '/caller/ping';

export function createSandboxController(sandbox: Sandbox): SandboxController {
  // fields assigned during up(): undefined until then, whatever their declared types say
  const controlPlane = (): ControlPlane | undefined => sandbox.controlPlane as ControlPlane | undefined;
  const workloads = (): WorkloadManager => {
    const w = sandbox.workloads as WorkloadManager | undefined;
    if (!w) throw new MeshError('MESH_ERR_USAGE', ['the sandbox is still starting'], { hint: 'wait for the workloads to start, then try again' });
    return w;
  };
  const paused = new Set<string>();
  sandbox.onEvent((e) => {
    if (e.type === 'mesh:workload:exited' || e.type === 'mesh:workload:stopped' || e.type === 'mesh:workload:starting') paused.delete(e.instance);
  });

  const workloadControl: WorkloadControl = {
    kill: async (id) => workloads().kill(id),
    restart: async (id) => workloads().restart(id),
    pause: async (id) => {
      await workloads().pause(id);
      paused.add(id);
    },
    resume: async (id) => {
      await workloads().resume(id);
      paused.delete(id);
    },
  };

  const loadTarget = (): LoadTarget | undefined => {
    if (!sandbox.ingressUrl) return undefined;
    const found = gatewayHost(controlPlane()?.appliedResources ?? []);
    if (!found) return undefined;
    const isSample = (sandbox.mesh as typeof sandbox.mesh | undefined)?.file === sampleMeshFile();
    return { baseUrl: sandbox.ingressUrl, host: found.host, path: found.path ?? (isSample ? SAMPLE_PATH : '/') };
  };

  return {
    onEvent: (listener) => sandbox.onEvent(listener),
    info: () => ({
      id: sandbox.id,
      name: (sandbox.mesh as typeof sandbox.mesh | undefined)?.name ?? '',
      runtime: (sandbox.runtime as Runtime | undefined)?.name,
      ingressUrl: sandbox.ingressUrl,
      adminUrl: sandbox.adminUrl,
      toxiproxyUrl: sandbox.toxiproxyUrl,
      seed: sandbox.seed,
      rulesDir: sandbox.rulesDir,
    }),
    instances: () =>
      sandbox.registry.all().map((i) => ({
        id: i.id,
        service: i.workload.service,
        version: i.workload.version,
        workload: i.workload.workload,
        state: i.state,
        healthy: i.healthy,
        drained: i.drained,
        paused: paused.has(i.id),
        pid: i.pid,
        restarts: i.restarts,
      })),
    snapshotVersion: () => controlPlane()?.current?.version ?? 0,
    resources: () =>
      (controlPlane()?.appliedResources ?? []).map((r) => ({
        kind: r.kind,
        namespace: r.metadata.namespace,
        name: r.metadata.name,
        file: r.source.file,
        line: r.source.line,
        col: r.source.col,
      })),
    findings: () => sandbox.ruleFindings,
    faults: sandbox.faults,
    workloads: workloadControl,
    load: new IngressLoad(loadTarget),
    explainRequest: (e) => sandbox.explainRequest(e),
    get traces() {
      return sandbox.tracing?.store;
    },
    traceStats: () => sandbox.tracing?.stats(),
    down: () => sandbox.down(),
  };
}

/**
 * The first host a Gateway-bound VirtualService serves (not a wildcard), with the path prefix of
 * its first `uri` match if it has one; else the first plain host of a Gateway server.
 */
export function gatewayHost(resources: readonly LoadedResource[]): { host: string; path?: string } | undefined {
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const spec = (r as VirtualService).spec;
    if (!spec.gateways?.some((g) => g !== 'mesh')) continue;
    const host = spec.hosts?.find((h) => !h.includes('*'));
    if (!host) continue;
    for (const route of spec.http ?? []) {
      for (const m of route.match ?? []) {
        const p = m.uri?.prefix ?? m.uri?.exact;
        if (p) return { host, path: p };
      }
    }
    return { host };
  }
  for (const r of resources) {
    if (r.kind !== 'Gateway') continue;
    for (const server of (r as Gateway).spec.servers ?? []) {
      const host = server.hosts.map((h) => h.replace(/^[^/]*\//, '')).find((h) => !h.includes('*'));
      if (host) return { host };
    }
  }
  return undefined;
}
