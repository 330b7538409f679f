/**
 * A schema-valid meshbox.yaml value -> MeshDefinition: defaults, per-version overrides and
 * merges, absolute paths, the `app`/`version` labels; plus the checks a schema cannot express
 * (how to start each workload, reserved labels, unique workload names).
 */
import { basename, dirname, resolve } from 'node:path';
import type { Finding } from './findings.js';
import { hasErrors } from './findings.js';
import { makeFinding } from './codes.js';
import { DEFAULT_HEALTH, DEFAULT_INGRESS, DEFAULT_START_TIMEOUT_MS } from './mesh-types.js';
import type { BuildSpec, HealthCheckSpec, KubernetesSourceSpec, MeshDefinition, ServiceSpec, WatchSpec, WorkloadSpec } from './mesh-types.js';
import { DEFAULT_NAMESPACE } from './resource.js';
import type { YamlDocument } from './yaml-source.js';
import { parseDuration } from './duration.js';
import { portVariable, servicePort } from './service-ports.js';
import { codecOf } from './protocol-selection.js';

type Scalar = string | number | boolean;
type BuildValue = string | { context: string; dockerfile?: string; args?: Record<string, Scalar> };
type HealthValue = string | { kind?: 'http' | 'tcp'; path?: string; interval?: string; timeout?: string; unhealthyThreshold?: number };

interface WorkloadValue {
  command?: string | string[];
  cwd?: string;
  image?: string;
  build?: BuildValue;
  env?: Record<string, Scalar>;
  labels?: Record<string, Scalar>;
  health?: HealthValue;
  startTimeout?: string;
  replicas?: number;
  serviceAccount?: string;
}

type VersionValue = WorkloadValue & { workload?: string };

interface WatchValue {
  paths: string[];
  ignore?: string[];
  action?: 'restart' | 'rebuild';
  build?: string | string[];
}

interface PortValue {
  name?: string;
  port: number;
  targetPort?: number;
  appProtocol?: string;
}

interface ServiceValue extends WorkloadValue {
  port?: number;
  ports?: PortValue[];
  watch?: WatchValue;
  versions?: Record<string, VersionValue>;
}

export interface MeshFileValue {
  name?: string;
  namespace?: string;
  rules?: string;
  ingress?: { host?: string; port?: number; labels?: Record<string, string>; gatewayTopology?: { numTrustedProxies?: number } };
  tracing?: { sampling?: number; otlpEndpoint?: string; zipkin?: string };
  outboundTrafficPolicy?: { mode?: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
  trustDomain?: string;
  trustDomainAliases?: string[];
  dataPlane?: { workers?: number };
  services?: Record<string, ServiceValue>;
  kubernetes?: string[];
  images?: Record<string, { command?: string | string[]; cwd?: string; health?: string; watch?: WatchValue }>;
}

const RESERVED_LABELS = ['app', 'version'];

function reservedLabelFindings(svc: ServiceValue, base: string[], doc: YamlDocument): Finding[] {
  const places: Array<{ at: string[]; labels: Record<string, Scalar> | undefined }> = [{ at: base, labels: svc.labels }];
  for (const [ver, v] of Object.entries(svc.versions ?? {})) places.push({ at: [...base, 'versions', ver], labels: v.labels });
  const out: Finding[] = [];
  for (const { at, labels } of places) {
    for (const reserved of RESERVED_LABELS) {
      if (!labels || !Object.hasOwn(labels, reserved)) continue;
      out.push(
        makeFinding('MESH_RESERVED_LABEL', `${[...at, 'labels'].join('.')}: the label \`${reserved}\` is set by meshbox (\`app: <service>\`, \`version: <version>\`)`, {
          hint: reserved === 'version' ? 'declare versions under `versions:` instead' : 'the service name is the app label; remove it',
          location: doc.locate([...at, 'labels', reserved], { key: true }),
        }),
      );
    }
  }
  return out;
}

/** what a schema cannot say about `ports:`: numbers and names unique, names giving distinct PORT_<NAME> */
function portFindings(svc: ServiceValue, base: string[], doc: YamlDocument): Finding[] {
  const out: Finding[] = [];
  const numbers = new Map<number, number>();
  const names = new Map<string, number>();
  const variables = new Map<string, number>();
  (svc.ports ?? []).forEach((p, i) => {
    const at = [...base, 'ports', i];
    const seen = numbers.get(p.port);
    if (seen !== undefined) {
      out.push(makeFinding('MESH_DUPLICATE_PORT', `${at.join('.')}: port ${p.port} is also ports[${seen}]`, { hint: 'give each port its own number, as a Kubernetes Service must', location: doc.locate([...at, 'port']) }));
    } else numbers.set(p.port, i);
    if (svc.ports!.length > 1 && !p.name) {
      out.push(makeFinding('MESH_UNNAMED_PORT', `${at.join('.')}: port ${p.port} has no name; a service with several ports names each (Kubernetes requires it)`, { hint: 'add `name: <protocol>[-<suffix>]`, e.g. `name: tcp-db` or `name: http-web`', location: doc.locate(at) }));
    }
    if (!p.name) return;
    const dup = names.get(p.name);
    if (dup !== undefined) {
      out.push(makeFinding('MESH_DUPLICATE_PORT', `${at.join('.')}: the name \`${p.name}\` is also ports[${dup}]'s`, { hint: 'give each port its own name', location: doc.locate([...at, 'name']) }));
      return;
    }
    names.set(p.name, i);
    const variable = portVariable(p.name);
    const clash = variables.get(variable);
    if (clash !== undefined) {
      out.push(makeFinding('MESH_DUPLICATE_PORT', `${at.join('.')}: the name \`${p.name}\` gives the app the same variable ${variable} as ports[${clash}]`, { hint: 'rename one of the ports', location: doc.locate([...at, 'name']) }));
    } else variables.set(variable, i);
  });
  return out;
}

function strings(values: Record<string, Scalar> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values ?? {})) out[k] = String(v);
  return out;
}

function argv(command: string | string[] | undefined): string[] | undefined {
  if (command === undefined) return undefined;
  return typeof command === 'string' ? ['/bin/sh', '-c', command] : [...command];
}

function buildSpec(b: BuildValue | undefined, dir: string): BuildSpec | undefined {
  if (b === undefined) return undefined;
  if (typeof b === 'string') return { context: resolve(dir, b), dockerfile: 'Dockerfile', args: {} };
  return { context: resolve(dir, b.context), dockerfile: b.dockerfile ?? 'Dockerfile', args: strings(b.args) };
}

function healthSpec(h: HealthValue | undefined): HealthCheckSpec {
  if (h === undefined) return { path: '/', ...DEFAULT_HEALTH };
  if (typeof h === 'string') return { path: h, ...DEFAULT_HEALTH };
  return {
    path: h.path ?? '/',
    intervalMs: h.interval ? parseDuration(h.interval) : DEFAULT_HEALTH.intervalMs,
    timeoutMs: h.timeout ? parseDuration(h.timeout) : DEFAULT_HEALTH.timeoutMs,
    unhealthyThreshold: h.unhealthyThreshold ?? DEFAULT_HEALTH.unhealthyThreshold,
    ...(h.kind === 'tcp' ? { kind: 'tcp' as const } : {}),
  };
}

/** `watch:` with absolute paths; an ignore pattern without `/` matches a name anywhere. */
function watchSpec(w: WatchValue | undefined, svc: ServiceValue, dir: string): WatchSpec | undefined {
  if (w === undefined) return undefined;
  const build = argv(w.build);
  const spec: WatchSpec = {
    paths: w.paths.map((p) => resolve(dir, p)),
    ignore: (w.ignore ?? []).map((g) => resolve(dir, g.includes('/') ? g : `**/${g}`)),
    action: w.action ?? (build ? 'rebuild' : 'restart'),
    cwd: resolve(dir, svc.cwd ?? '.'),
  };
  if (build && spec.action === 'rebuild') spec.build = build;
  return spec;
}

/** One workload: the version's settings over the service's (env and labels merged). */
function workloadSpec(service: string, version: string, svc: ServiceValue, v: VersionValue, dir: string): WorkloadSpec {
  const startTimeout = v.startTimeout ?? svc.startTimeout;
  const spec: WorkloadSpec = {
    service,
    version,
    workload: v.workload ?? `${service}-${version}`,
    replicas: v.replicas ?? svc.replicas ?? 1,
    cwd: resolve(dir, v.cwd ?? svc.cwd ?? '.'),
    env: { ...strings(svc.env), ...strings(v.env) },
    labels: { ...strings(svc.labels), ...strings(v.labels), app: service, version },
    health: healthSpec(v.health ?? svc.health),
    startTimeoutMs: startTimeout !== undefined ? parseDuration(startTimeout) : DEFAULT_START_TIMEOUT_MS,
    serviceAccount: v.serviceAccount ?? svc.serviceAccount ?? service,
  };
  const command = argv(v.command ?? svc.command);
  const image = v.image ?? svc.image;
  const build = buildSpec(v.build ?? svc.build, dir);
  if (command) spec.command = command;
  if (image) spec.image = image;
  if (build) spec.build = build;
  return spec;
}

export function buildMesh(value: MeshFileValue, file: string, doc: YamlDocument): { mesh?: MeshDefinition; findings: Finding[] } {
  const abs = resolve(file);
  const dir = dirname(abs);
  const findings: Finding[] = [];
  const services: ServiceSpec[] = [];
  const workloadNames = new Map<string, string>();

  for (const [name, svc] of Object.entries(value.services ?? {})) {
    const base = ['services', name];
    findings.push(...reservedLabelFindings(svc, base, doc));
    const versions: Array<[string, VersionValue]> = svc.versions ? Object.entries(svc.versions) : [['v1', {}]];
    const workloads: WorkloadSpec[] = [];
    for (const [ver, v] of versions) {
      const spec = workloadSpec(name, ver, svc, v, dir);
      const at = svc.versions ? [...base, 'versions', ver] : base;
      if (!spec.command && !spec.image && !spec.build) {
        findings.push(
          makeFinding('MESH_NO_START', `${at.join('.')}: no \`command\`, \`image\` or \`build\`: meshbox does not know how to start ${name} ${ver}`, {
            hint: 'add `command: <how to start it>` (process runtime) or `image:`/`build:` (Docker runtime) to the service or to this version',
            location: doc.locate(at, { key: true }),
          }),
        );
      }
      const other = workloadNames.get(spec.workload);
      if (other !== undefined) {
        findings.push(
          makeFinding('MESH_DUPLICATE_WORKLOAD', `workload name \`${spec.workload}\` of ${name} ${ver} is also the workload of ${other}`, {
            hint: 'rename a service or version, or set `workload:` on one of the versions',
            location: doc.locate(at, { key: true }),
          }),
        );
      }
      workloadNames.set(spec.workload, `${name} ${ver}`);
      workloads.push(spec);
    }
    findings.push(...portFindings(svc, base, doc));
    const ports = (svc.ports ?? [{ port: svc.port! }]).map(servicePort);
    // a first port served as TCP is checked with a TCP connect unless a health check is given
    if (codecOf(ports[0]!.protocol) === 'tcp') {
      (svc.versions ? Object.entries(svc.versions) : [['v1', {}] as [string, VersionValue]]).forEach(([, v], i) => {
        if (v.health === undefined && svc.health === undefined) workloads[i]!.health = { ...workloads[i]!.health, kind: 'tcp' };
      });
    }
    const service: ServiceSpec = { name, port: ports[0]!.port, protocol: ports[0]!.protocol, workloads, location: doc.locate(base, { key: true }) };
    if (svc.ports) service.ports = ports;
    const watch = watchSpec(svc.watch, svc, dir);
    if (watch) service.watch = watch;
    services.push(service);
  }
  if (hasErrors(findings)) return { findings };
  const mesh: MeshDefinition = {
    file: abs,
    name: value.name ?? basename(dir),
    namespace: value.namespace ?? DEFAULT_NAMESPACE,
    rulesDir: resolve(dir, value.rules ?? './rules'),
    ingress: {
      host: value.ingress?.host ?? DEFAULT_INGRESS.host,
      port: value.ingress?.port ?? DEFAULT_INGRESS.port,
      labels: { ...(value.ingress?.labels ?? DEFAULT_INGRESS.labels) },
      ...(value.ingress?.gatewayTopology?.numTrustedProxies !== undefined ? { gatewayTopology: { numTrustedProxies: value.ingress.gatewayTopology.numTrustedProxies } } : {}),
    },
    services,
    ...(value.tracing ? { tracing: { ...value.tracing } } : {}),
    ...(value.outboundTrafficPolicy?.mode ? { outboundTrafficPolicy: { mode: value.outboundTrafficPolicy.mode } } : {}),
    ...(value.trustDomain !== undefined ? { trustDomain: value.trustDomain } : {}),
    ...(value.trustDomainAliases?.length ? { trustDomainAliases: [...value.trustDomainAliases] } : {}),
    ...(value.dataPlane ? { dataPlane: { ...value.dataPlane } } : {}),
  };
  if (value.kubernetes || value.images) {
    const images: KubernetesSourceSpec['images'] = {};
    for (const [image, entry] of Object.entries(value.images ?? {})) {
      const cmd = argv(entry.command);
      const watch = watchSpec(entry.watch, { ...(entry.cwd ? { cwd: entry.cwd } : {}) }, dir);
      images[image] = { cwd: resolve(dir, entry.cwd ?? '.'), ...(cmd ? { command: cmd } : {}), ...(entry.health ? { health: entry.health } : {}), ...(watch ? { watch } : {}) };
    }
    mesh.kubernetes = { paths: (value.kubernetes ?? []).map((p) => resolve(dir, p)), images };
  }
  return { mesh, findings };
}
