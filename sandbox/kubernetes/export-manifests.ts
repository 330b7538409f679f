/**
 * MeshDefinition + rules -> a Kubernetes + Istio project that `kubectl apply -k DIR` applies:
 *
 *   namespace.yaml        the Namespace, labelled `istio-injection: enabled`
 *   <service>.yaml        ServiceAccount, Service (named port `http`), a Deployment per version
 *                         (labels app/version and the extra ones, env, ports, probes from
 *                         `health`, replicas, image from `image`/`build`)
 *   istio/<file>          the Istio resources of the rules folder, unchanged (text kept)
 *   faults.yaml           meshbox `Fault`s Istio can express (HTTP abort/delay) as VirtualServices
 *   kustomization.yaml    resources + namespace
 *   skaffold.yaml         when a service is built (`build:`): one artifact per built image
 *
 * The Deployments also carry `meshbox.dev/command` (and `meshbox.dev/cwd`) annotations with the
 * process-runtime command, so `meshbox up -f DIR` runs the export as the original mesh ran.
 * What Kubernetes/Istio has no equivalent for is left out with a note (K8S_EXPORT_NOTE).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { stringify } from 'yaml';
import { portsOf } from '../config/service-ports.js';
import type { Finding } from '../config/findings.js';
import { makeFinding } from '../config/codes.js';
import { isObj, type Obj } from '../config/checks/guards.js';
import type { MeshDefinition, ServiceSpec, WorkloadSpec } from '../config/mesh-types.js';
import { DEFAULT_START_TIMEOUT_MS } from '../config/mesh-types.js';
import { parseYaml } from '../config/yaml-source.js';
import { classifyKind } from '../config/kinds.js';
import { COMMAND_ANNOTATION, CWD_ANNOTATION } from './image-recipes.js';

export interface ExportInput {
  mesh: MeshDefinition;
  /** rule files (absolute) whose Istio documents are exported */
  ruleFiles: string[];
}

export interface ExportedFile {
  /** relative to the output folder */
  path: string;
  text: string;
}

export interface ExportResult {
  files: ExportedFile[];
  notes: Finding[];
}

const HEADER = '# Written by `meshbox export --k8s` from';

const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

function imageOf(svc: ServiceSpec, w: WorkloadSpec): string {
  if (w.image) return w.image;
  if (w.build) return svc.workloads.filter((x) => x.build).length > 1 && svc.workloads.some((x) => x.build && x.build.context !== w.build!.context) ? `${svc.name}-${w.version}` : svc.name;
  return `meshbox/${svc.name}`;
}

/**
 * The container ports and the Service ports of a service: one per port, the container port named
 * after the Service port (`http` for meshbox.yaml's unnamed `port:`, whose Service port stays
 * unnamed: Istio detects its protocol, as meshbox does), the Service's targetPort that name.
 */
function portsFor(svc: ServiceSpec): { container: Obj[]; service: Obj[] } {
  const container: Obj[] = [];
  const service: Obj[] = [];
  for (const p of portsOf(svc)) {
    // a container port's name is an IANA service name: at most 15 characters
    const name = p.name === undefined ? 'http' : p.name.length <= 15 ? p.name : undefined;
    container.push({ ...(name ? { name } : {}), containerPort: p.targetPort ?? p.port });
    service.push({ ...(p.name ? { name: p.name } : {}), port: p.port, targetPort: name ?? p.targetPort ?? p.port, ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}) });
  }
  return { container, service };
}

/** how probes name the port they check: the first container port */
function probePort(svc: ServiceSpec): string | number {
  const first = portsFor(svc).container[0]!;
  return (first['name'] as string | undefined) ?? (first['containerPort'] as number);
}

/** the handler of the workload's health check: httpGet, tcpSocket or exec */
function handler(w: WorkloadSpec, port: string | number): Obj {
  return w.health.kind === 'tcp' ? { tcpSocket: { port } } : w.health.kind === 'exec' && w.health.command ? { exec: { command: w.health.command } } : { httpGet: { path: w.health.path, port } };
}

function probe(w: WorkloadSpec, port: string | number = 'http'): Obj {
  const how = handler(w, port);
  return {
    ...how,
    periodSeconds: seconds(w.health.intervalMs),
    timeoutSeconds: seconds(w.health.timeoutMs),
    failureThreshold: w.health.unhealthyThreshold,
  };
}

function deployment(mesh: MeshDefinition, svc: ServiceSpec, w: WorkloadSpec, outDir: string, notes: Finding[]): Obj {
  const annotations: Record<string, string> = {};
  if (w.command) {
    annotations[COMMAND_ANNOTATION] = JSON.stringify(w.command);
    annotations[CWD_ANNOTATION] = relative(outDir, w.cwd) || '.';
  }
  const container: Obj = {
    name: svc.name,
    image: imageOf(svc, w),
    imagePullPolicy: 'IfNotPresent',
    ports: portsFor(svc).container,
  };
  // in a container: the manifest's own command/args when it came from one; else meshbox.yaml's
  // `command` of an `image`, which meshbox's Docker runtime runs as the image's CMD: `args`
  if (w.container) {
    if (w.container.command) container['command'] = w.container.command;
    if (w.container.args) container['args'] = w.container.args;
  } else if (w.command && w.image) container['args'] = w.command;
  const env = Object.entries(w.env).map(([name, value]) => ({ name, value }));
  if (env.length) container['env'] = env;
  container['readinessProbe'] = probe(w, probePort(svc));
  container['livenessProbe'] = probe(w, probePort(svc));
  if (w.startTimeoutMs !== DEFAULT_START_TIMEOUT_MS) {
    container['startupProbe'] = { ...handler(w, probePort(svc)), periodSeconds: 1, failureThreshold: seconds(w.startTimeoutMs) };
  }
  if (!w.image && !w.build && !notes.some((n) => n.message.includes(`the image ${imageOf(svc, w)},`))) {
    notes.push(makeFinding('K8S_EXPORT_NOTE', `${w.workload}: no \`image\` or \`build\` in ${basename(mesh.file)}: the Deployment names the image ${imageOf(svc, w)}, which a cluster must be able to pull`, { location: svc.location, hint: `build and push it, or give the service \`image:\` or \`build:\` in ${basename(mesh.file)} and export again` }));
  }
  const template: Obj = { metadata: { labels: { ...w.labels }, ...(Object.keys(annotations).length ? { annotations } : {}) }, spec: { serviceAccountName: w.serviceAccount ?? svc.name, containers: [container] } };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: w.workload, labels: { app: w.labels['app'] ?? svc.name, version: w.version } },
    spec: { replicas: w.replicas, selector: { matchLabels: { app: w.labels['app'] ?? svc.name, version: w.version } }, template },
  };
}

function serviceDocs(mesh: MeshDefinition, svc: ServiceSpec, outDir: string, notes: Finding[]): Obj[] {
  const app = svc.workloads[0]?.labels['app'] ?? svc.name;
  // one ServiceAccount per app, plus the other accounts its workloads name (`default` exists in every namespace)
  const accounts = [...new Set([svc.name, ...svc.workloads.map((w) => w.serviceAccount ?? svc.name)])].filter((a) => a !== 'default');
  const docs: Obj[] = [
    ...accounts.map((name) => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, labels: { app } } })),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: svc.name, labels: { app, service: svc.name } },
      spec: { selector: { app }, ports: portsFor(svc).service },
    },
  ];
  for (const w of svc.workloads) docs.push(deployment(mesh, svc, w, outDir, notes));
  // meshbox takes DNS-1123 labels; a Kubernetes Service name is a DNS-1035 label (it starts with a letter)
  if (!/^[a-z]/.test(svc.name)) notes.push(makeFinding('K8S_EXPORT_NOTE', `${svc.name}: a Kubernetes Service name must start with a letter (DNS-1035 label): the API server rejects Service ${svc.name}`, { location: svc.location, severity: 'warning', hint: `rename the service in ${basename(mesh.file)} (and its hosts in the rules), then export again` }));
  if (svc.watch) notes.push(makeFinding('K8S_EXPORT_NOTE', `${svc.name}: \`watch:\` (hot reload of the code) has no Kubernetes equivalent: left out; \`meshbox dev\` / \`skaffold dev\` rebuild on changes`, { location: svc.location }));
  return docs;
}

/** An HTTP-only meshbox Fault as an Istio VirtualService fault; undefined when Istio cannot express it. */
function faultAsVirtualService(doc: Obj, hostsWithVs: Set<string>, where: Finding['location'], notes: Finding[]): Obj | undefined {
  const name = isObj(doc['metadata']) ? String(doc['metadata']['name'] ?? 'fault') : 'fault';
  const spec = isObj(doc['spec']) ? doc['spec'] : {};
  const target = isObj(spec['target']) ? spec['target'] : {};
  const http = isObj(spec['http']) ? spec['http'] : {};
  const leftOut = (why: string, hint: string): undefined => {
    notes.push(makeFinding('K8S_EXPORT_NOTE', `Fault ${name}: ${why}: left out`, { location: where, hint }));
    return undefined;
  };
  if (spec['toxics'] !== undefined) return leftOut('network toxics (Toxiproxy) have no Istio equivalent', 'run them with meshbox (or Toxiproxy) only');
  if (http['reset'] !== undefined || http['slowBody'] !== undefined) return leftOut('connection resets and slow bodies have no Istio VirtualService fault', 'Istio injects only HTTP delays and aborts');
  if (target['source'] !== undefined) return leftOut('a fault for one source workload', 'add a `sourceLabels` match to a VirtualService route by hand');
  const service = String(target['service'] ?? '');
  if (hostsWithVs.has(service)) return leftOut(`a VirtualService for ${service} exists, and Istio applies one per host`, `add \`fault:\` (delay/abort) to that VirtualService's route`);
  const fault: Obj = {};
  const pct = (p: unknown): Obj => ({ percentage: { value: typeof p === 'number' ? p : 100 } });
  // Istio takes delays of 1ms and more (its CRD rejects `0ms`); a zero delay does nothing anyway
  if (isObj(http['delay']) && Number(http['delay']['fixedDelayMs']) >= 1) fault['delay'] = { fixedDelay: `${Number(http['delay']['fixedDelayMs'])}ms`, ...pct(http['delay']['percent']) };
  if (isObj(http['abort'])) {
    fault['abort'] = { httpStatus: Number(http['abort']['httpStatus']), ...pct(http['abort']['percent']) };
    if (http['abort']['body'] !== undefined || http['abort']['headers'] !== undefined) notes.push(makeFinding('K8S_EXPORT_NOTE', `Fault ${name}: the abort's body and headers have no Istio equivalent: Istio answers \`fault filter abort\``, { location: where }));
  }
  if (Object.keys(fault).length === 0) return leftOut('a delay of 0ms does nothing (and Istio takes delays of 1ms and more)', 'give it a delay of 1ms or more, or an abort');
  const match = isObj(spec['match']) ? spec['match'] : undefined;
  const m: Obj = {};
  if (match?.['method']) m['method'] = { exact: String(match['method']) };
  if (match?.['pathPrefix']) m['uri'] = { prefix: String(match['pathPrefix']) };
  if (isObj(match?.['headers'])) m['headers'] = Object.fromEntries(Object.entries(match['headers']).map(([k, v]) => [k, { exact: String(v) }]));
  const destination: Obj = { host: service, ...(target['subset'] ? { subset: String(target['subset']) } : {}) };
  const routes: Obj[] = [{ ...(Object.keys(m).length ? { match: [m] } : {}), fault, route: [{ destination }] }];
  if (Object.keys(m).length || target['subset']) routes.push({ route: [{ destination: { host: service } }] });
  hostsWithVs.add(service);
  notes.push(makeFinding('K8S_EXPORT_NOTE', `Fault ${name}: mapped to the Istio VirtualService ${name}-fault (HTTP ${Object.keys(fault).join(' and ')})`, { location: where }));
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: `${name}-fault` }, spec: { hosts: [service], http: routes } };
}

/** Builds the project (pure apart from reading the rule files). */
export async function exportManifests(input: ExportInput, outDir: string): Promise<ExportResult> {
  const { mesh } = input;
  const notes: Finding[] = [];
  const files: ExportedFile[] = [];
  const source = `${HEADER} ${relative(outDir, mesh.file) || basename(mesh.file)}; apply with \`kubectl apply -k .\`\n`;
  const yaml = (docs: Obj[]): string => source + docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n');

  files.push({ path: 'namespace.yaml', text: yaml([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: mesh.namespace, labels: { 'istio-injection': 'enabled' } } }]) });
  for (const svc of mesh.services) files.push({ path: `${svc.name}.yaml`, text: yaml(serviceDocs(mesh, svc, outDir, notes)) });

  // Istio resources, unchanged; meshbox Faults mapped or left out
  const hostsWithVs = new Set<string>();
  const parsedRules: Array<{ file: string; text: string; docs: Array<{ value: Obj; where: Finding['location']; fault: boolean }> }> = [];
  for (const file of input.ruleFiles) {
    const text = await readFile(file, 'utf8');
    const parsed = parseYaml(text, file);
    const docs = parsed.documents.filter((d) => isObj(d.value)).map((d) => ({ value: d.value as Obj, where: d.start, fault: (d.value as Obj)['kind'] === 'Fault' }));
    for (const d of docs) if (d.value['kind'] === 'VirtualService' && isObj(d.value['spec']) && Array.isArray(d.value['spec']['hosts'])) for (const h of d.value['spec']['hosts']) hostsWithVs.add(String(h).split('.')[0]!);
    parsedRules.push({ file, text, docs });
  }
  const faultVs: Obj[] = [];
  const used = new Set<string>();
  for (const r of parsedRules) {
    // Kubernetes kinds of the rule files (manifests read with -f) are written from the model above
    const kept = r.docs.filter((d) => !d.fault && classifyKind(String(d.value['apiVersion'] ?? ''), String(d.value['kind'] ?? '')).class !== 'kubernetes');
    for (const d of r.docs.filter((x) => x.fault)) {
      const vs = faultAsVirtualService(d.value, hostsWithVs, d.where, notes);
      if (vs) faultVs.push(vs);
    }
    if (kept.length === 0) continue;
    let name = `istio/${basename(r.file)}`;
    // two rule files of one name (callme/istio-rules.yaml, caller/istio-rules.yaml): prefixed by their folder
    if (used.has(name) || parsedRules.some((o) => o.file !== r.file && basename(o.file) === basename(r.file))) name = `istio/${basename(dirname(r.file))}-${basename(r.file)}`;
    for (let i = 2; used.has(name); i++) name = `istio/${i}-${basename(r.file)}`;
    used.add(name);
    // unchanged: the file's own text (comments kept) when it holds no Fault, else its other documents
    files.push({ path: name, text: kept.length === r.docs.length ? r.text : kept.map((d) => stringify(d.value, { lineWidth: 0 })).join('---\n') });
  }
  if (faultVs.length) files.push({ path: 'faults.yaml', text: yaml(faultVs) });

  // skaffold.yaml for the built images
  const artifacts: Obj[] = [];
  const seen = new Set<string>();
  for (const svc of mesh.services) {
    for (const w of svc.workloads) {
      if (!w.build || w.image) continue;
      const image = imageOf(svc, w);
      if (seen.has(image)) continue;
      seen.add(image);
      artifacts.push({ image, context: relative(outDir, w.build.context) || '.', docker: { dockerfile: w.build.dockerfile, ...(Object.keys(w.build.args).length ? { buildArgs: w.build.args } : {}) } });
    }
  }
  if (artifacts.length) {
    files.push({
      path: 'skaffold.yaml',
      text: source + stringify({ apiVersion: 'skaffold/v4beta11', kind: 'Config', metadata: { name: mesh.name }, build: { artifacts }, manifests: { kustomize: { paths: ['.'] } }, deploy: { kubectl: {} } }, { lineWidth: 0 }),
    });
  }
  files.push({
    path: 'kustomization.yaml',
    text: source + stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: mesh.namespace, resources: files.filter((f) => f.path !== 'skaffold.yaml').map((f) => f.path) }, { lineWidth: 0 }),
  });
  return { files, notes };
}

/** Writes the project into `outDir` (created when missing). */
export async function writeExport(result: ExportResult, outDir: string): Promise<void> {
  for (const f of result.files) {
    const path = join(outDir, f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.text);
  }
}
