/**
 * Kubernetes manifests -> meshbox's MeshDefinition, the same model meshbox.yaml produces, so
 * everything downstream (runtimes, sidecars, rules, metrics) is unchanged:
 *
 *   Service (name, ports; selector)        -> ServiceSpec (name, ports: each port's name, number,
 *     targetPort (a named one resolved from the container ports), appProtocol; its protocol
 *     selected as Istio does; UDP and SCTP ports are not proxied: reported, left out)
 *   Deployment / StatefulSet it selects     -> WorkloadSpec: workload = the Deployment's name,
 *     version = pod label `version` (default v1), labels = the pod labels (with `app`, `version`),
 *     replicas, env (value, ConfigMap/Secret keys, envFrom), command/args (`container`: ENTRYPOINT
 *     and CMD in Docker), readinessProbe (else livenessProbe) httpGet/tcpSocket/exec -> health
 *     path/interval/timeout/threshold (no probe: a TCP check of the port, as ready as Kubernetes
 *     counts a running container)
 *   Istio kinds in the same files           -> rules (`ruleFiles`), applied as from a rules folder
 *
 * What one machine cannot honour (volumes other than ConfigMap/Secret/emptyDir, node selectors,
 * affinity, tolerations, init containers, resources, extra containers, UDP ports, tcpSocket and
 * exec probes) is one warning with its location. Errors (schema, selector mismatch, missing
 * ConfigMap, duplicate ports, an image nothing can start) drop only the object concerned: the rest
 * of the project still comes up.
 */
import { basename, dirname, resolve } from 'node:path';
import type { Finding } from '../config/findings.js';
import { hasErrors } from '../config/findings.js';
import { makeFinding } from '../config/codes.js';
import { isObj, type Obj } from '../config/checks/guards.js';
import { validateAgainst } from '../config/schema-validator.js';
import { schemaErrorsToFindings } from '../config/schema-findings.js';
import { DEFAULT_HEALTH, DEFAULT_INGRESS, DEFAULT_START_TIMEOUT_MS } from '../config/mesh-types.js';
import type { HealthCheckSpec, ImageCommandSpec, MeshDefinition, ServicePortSpec, ServiceSpec, WatchSpec, WorkloadSpec } from '../config/mesh-types.js';
import { servicePort } from '../config/service-ports.js';
import { codecOf } from '../config/protocol-selection.js';
import { DEFAULT_NAMESPACE } from '../config/resource.js';
import { classifyKind } from '../config/kinds.js';
import { readManifests, type ManifestObject } from './manifest-sources.js';
import { KUBERNETES_API_VERSIONS, KUBERNETES_SCHEMAS } from './schemas.js';
import { apiSchemaProblems } from './api-schemas.js';
import { COMMAND_ANNOTATION, CWD_ANNOTATION, commandAnnotation, dockerfileFolder, imageEntry, notRunnableHint, readSkaffold, unsupportedBuilderFinding } from './image-recipes.js';

export interface ImportOptions {
  /** the runtime the workloads will run under: decides what "runnable" means for an image */
  runtime: 'process' | 'docker';
  /** true when the local Docker image store has the image (Docker runtime) */
  imageExists?: (image: string) => Promise<boolean>;
  /** meshbox.yaml `images:` (process runtime commands) */
  images?: Record<string, ImageCommandSpec>;
  /** mesh name (default: the folder of the first manifest) */
  name?: string;
}

export interface ImportResult {
  mesh?: MeshDefinition;
  findings: Finding[];
  /** service account of each workload (`serviceAccountName`, default `default`), by workload name */
  serviceAccounts: Record<string, string>;
}

const NOT_HONOURED_POD_FIELDS: Record<string, string> = {
  nodeSelector: 'everything runs on this machine',
  affinity: 'everything runs on this machine',
  tolerations: 'everything runs on this machine',
  initContainers: 'init containers are not run: do their work before `meshbox up`',
  hostNetwork: 'meshbox chooses the networking',
  securityContext: 'the workload runs as the current user',
};

const at = (o: ManifestObject, path: Array<string | number>, key = false): Finding['location'] => o.doc.locate(path, { key });

function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

/** the number of the container port named `name` in a Deployment's or StatefulSet's pod template */
function containerPortNamed(o: ManifestObject, name: string): number | undefined {
  const podSpec = (((o.value['spec'] as Obj | undefined)?.['template'] as Obj | undefined)?.['spec'] ?? {}) as Obj;
  for (const c of Array.isArray(podSpec['containers']) ? (podSpec['containers'] as Obj[]) : []) {
    for (const p of Array.isArray(c['ports']) ? (c['ports'] as Obj[]) : []) if (p['name'] === name && typeof p['containerPort'] === 'number') return p['containerPort'];
  }
  return undefined;
}

interface Config {
  data: Record<string, string>;
}

/** Reads manifests and builds the mesh. Never throws for bad input: findings. */
export async function importManifests(paths: readonly string[], opts: ImportOptions): Promise<ImportResult> {
  const set = await readManifests(paths);
  const findings = [...set.findings];
  const serviceAccounts: Record<string, string> = {};
  const configMaps = new Map<string, Config>();
  const secrets = new Map<string, Config>();
  const workloads: ManifestObject[] = [];
  const services: ManifestObject[] = [];
  let namespace: string | undefined;

  // one object per kind/namespace/name, as a cluster keeps it: `kubectl apply` leaves the last one
  const nsOf = (o: ManifestObject): string => (isObj(o.value['metadata']) && typeof o.value['metadata']['namespace'] === 'string' ? o.value['metadata']['namespace'] : '');
  const last = new Map<string, ManifestObject>();
  for (const o of set.objects) if (o.name && classifyKind(o.apiVersion, o.kind).class === 'kubernetes') last.set(`${o.kind}/${nsOf(o)}/${o.name}`, o);
  for (const o of set.objects) {
    const cls = classifyKind(o.apiVersion, o.kind);
    if (cls.class !== 'kubernetes') continue; // Istio kinds: applied as rules from the same files
    const kept = o.name ? last.get(`${o.kind}/${nsOf(o)}/${o.name}`) : o;
    if (kept && kept !== o) {
      findings.push(makeFinding('DUPLICATE_RESOURCE', `${o.kind} ${o.name} is defined again at ${kept.file}:${kept.doc.start.line}: that one is in effect, this one is ignored (as \`kubectl apply\` leaves the last)`, { location: o.doc.start, hint: `remove one of the two, or rename one` }));
      continue;
    }
    if (o.kind === 'ServiceAccount' || o.kind === 'Namespace') {
      // identities and the namespace: nothing to run, but what a cluster would reject is said
      if (o.apiVersion === 'v1') findings.push(...(await apiFindings(o)));
      continue;
    }
    const schema = KUBERNETES_SCHEMAS[o.kind];
    if (!schema) {
      findings.push(makeFinding('K8S_NOT_HONOURED', `${o.kind} ${o.name}: not used by meshbox on one machine`, { location: o.doc.start, hint: 'meshbox runs Deployments, StatefulSets and Services (with ConfigMaps and Secrets as env)' }));
      continue;
    }
    if (o.apiVersion !== KUBERNETES_API_VERSIONS[o.kind]) {
      findings.push(makeFinding('UNKNOWN_API_VERSION', `${o.kind} is served by apiVersion ${KUBERNETES_API_VERSIONS[o.kind]}, not ${o.apiVersion}`, { location: at(o, ['apiVersion']), hint: `write \`apiVersion: ${KUBERNETES_API_VERSIONS[o.kind]}\`` }));
      continue;
    }
    const errs = schemaErrorsToFindings(validateAgainst(schema, o.value), o.value, o.doc);
    if (hasErrors(errs)) {
      findings.push(...errs.map((f) => ({ ...f, message: `${o.kind} ${o.name || '(unnamed)'}: ${f.message}` })));
      continue;
    }
    findings.push(...(await apiFindings(o)));
    const ns = isObj(o.value['metadata']) && typeof o.value['metadata']['namespace'] === 'string' ? o.value['metadata']['namespace'] : undefined;
    if (ns && namespace === undefined) namespace = ns;
    if (o.kind === 'ConfigMap') configMaps.set(o.name, { data: strMap(o.value['data']) });
    else if (o.kind === 'Secret') {
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries(strMap(o.value['data']))) data[k] = Buffer.from(v, 'base64').toString('utf8');
      secrets.set(o.name, { data: { ...data, ...strMap(o.value['stringData']) } });
    } else if (o.kind === 'Service') services.push(o);
    else workloads.push(o);
  }

  const skaffold = readSkaffold(set.dirs);
  findings.push(...skaffold.findings);
  const reportedBuilders = new Set<string>();
  const watches = new Map<string, WatchSpec>();

  // each workload: its pod labels, checked selector
  interface Pod {
    o: ManifestObject;
    labels: Record<string, string>;
    service?: string;
  }
  const pods: Pod[] = [];
  /** workloads dropped for their selector (labels: the template's and the selector's): a Service selecting them says so */
  const mismatched: Pod[] = [];
  for (const o of workloads) {
    const spec = o.value['spec'] as Obj;
    const tpl = spec['template'] as Obj;
    const labels = strMap(isObj(tpl['metadata']) ? tpl['metadata']['labels'] : undefined);
    const selector = strMap(isObj(spec['selector']) ? spec['selector']['matchLabels'] : undefined);
    if (!matches(selector, labels)) {
      findings.push(
        makeFinding('K8S_SELECTOR_MISMATCH', `${o.kind} ${o.name}: \`selector.matchLabels\` ${JSON.stringify(selector)} does not match the pod template's labels ${JSON.stringify(labels)}`, {
          location: at(o, ['spec', 'selector'], true),
          hint: 'make every selector label also a label of `spec.template.metadata.labels` (the API server rejects this Deployment)',
        }),
      );
      mismatched.push({ o, labels: { ...labels, ...selector } });
      continue;
    }
    pods.push({ o, labels });
  }

  const out: ServiceSpec[] = [];
  const claimed = new Map<ManifestObject, string>();
  for (const svcObj of services) {
    const spec = (svcObj.value['spec'] ?? {}) as Obj;
    const selector = strMap(spec['selector']);
    const ports = Array.isArray(spec['ports']) ? (spec['ports'] as Obj[]) : [];
    if (spec['type'] === 'ExternalName') {
      findings.push(makeFinding('K8S_NOT_HONOURED', `Service ${svcObj.name}: an ExternalName Service (a DNS alias of ${String(spec['externalName'] ?? 'an outside host')}) has no workload for meshbox to run`, { location: at(svcObj, ['spec', 'type']), hint: 'it applies unchanged on a cluster; meshbox ignores it' }));
      continue;
    }
    if (Object.keys(selector).length === 0) {
      findings.push(makeFinding('K8S_SERVICE_SELECTS_NOTHING', `Service ${svcObj.name} has no selector (its endpoints are managed outside Kubernetes): meshbox has no workload to run for it`, { location: at(svcObj, ['spec'], true), hint: 'give it `selector: { app: <name> }` with the labels of a Deployment pod template' }));
      continue;
    }
    if (ports.length === 0) {
      findings.push(makeFinding('MISSING_FIELD', `Service ${svcObj.name} has no \`spec.ports\``, { location: at(svcObj, ['spec'], true), hint: 'add `ports: [{ name: http, port: 8080 }]`' }));
      continue;
    }
    const seenPorts = new Map<number, number>();
    let dup = false;
    ports.forEach((p, idx) => {
      const n = Number(p['port']);
      const first = seenPorts.get(n);
      if (first !== undefined) {
        dup = true;
        findings.push(makeFinding('K8S_DUPLICATE_PORT', `Service ${svcObj.name}: port ${n} is declared twice (ports[${first}] and ports[${idx}])`, { location: at(svcObj, ['spec', 'ports', idx, 'port']), hint: 'give each Service port its own number (the API server rejects duplicates)' }));
      } else seenPorts.set(n, idx);
    });
    if (dup) continue;
    // every Service port, its protocol selected as Istio does (appProtocol, name prefix, else detected)
    const declared: Array<{ idx: number; value: Obj; spec: ServicePortSpec }> = [];
    ports.forEach((p, idx) => {
      const name = typeof p['name'] === 'string' ? p['name'] : undefined;
      const appProtocol = typeof p['appProtocol'] === 'string' ? p['appProtocol'] : undefined;
      const transport = typeof p['protocol'] === 'string' ? p['protocol'] : 'TCP';
      const spec = servicePort({ ...(name ? { name } : {}), port: Number(p['port']), ...(typeof p['targetPort'] === 'number' ? { targetPort: p['targetPort'] } : {}), ...(appProtocol ? { appProtocol } : {}) });
      if (transport !== 'TCP' || spec.protocol === 'udp') {
        findings.push(makeFinding('K8S_NOT_HONOURED', `Service ${svcObj.name}: port ${String(p['port'])} is ${transport !== 'TCP' ? transport : 'udp'}: Istio does not proxy it, and meshbox does not serve it`, { location: at(svcObj, ['spec', 'ports', idx]), hint: 'meshbox serves TCP ports (HTTP, gRPC, TCP, TLS, ...); remove the port or run it outside the mesh' }));
        return;
      }
      declared.push({ idx, value: p, spec });
    });
    if (declared.length === 0) continue;
    const selected = pods.filter((p) => matches(selector, p.labels));
    const dropped = mismatched.filter((p) => matches(selector, p.labels));
    if (selected.length === 0 && dropped.length > 0) {
      findings.push(
        makeFinding('K8S_SERVICE_SELECTS_NOTHING', `Service ${svcObj.name}: it selects ${dropped.map((p) => `${p.o.kind} ${p.o.name}`).join(', ')}, which is not started (its selector does not match its pod template: see the error at ${dropped.map((p) => `${p.o.file}:${at(p.o, ['spec', 'selector'], true)?.line ?? p.o.doc.start.line}`).join(', ')})`, {
          location: at(svcObj, ['spec', 'selector'], true),
          hint: "fix that Deployment's selector; this Service comes up with it",
        }),
      );
      continue;
    }
    if (selected.length === 0) {
      findings.push(
        makeFinding('K8S_SERVICE_SELECTS_NOTHING', `Service ${svcObj.name}: its selector ${JSON.stringify(selector)} matches no Deployment or StatefulSet`, {
          location: at(svcObj, Object.keys(selector).length ? ['spec', 'selector'] : ['spec'], true),
          hint: 'use the labels of a Deployment pod template (`spec.template.metadata.labels`), e.g. `app: <name>`',
        }),
      );
      continue;
    }
    // a named targetPort is a container port's name: its number, from the first pod template that has it
    for (const d of declared) {
      const target = d.value['targetPort'];
      if (typeof target !== 'string') continue;
      const number = selected.map((pod) => containerPortNamed(pod.o, target)).find((n) => n !== undefined);
      if (number !== undefined) d.spec.targetPort = number;
    }
    const firstPort = declared[0]!.spec;
    const service: ServiceSpec = { name: svcObj.name, port: firstPort.port, protocol: firstPort.protocol, workloads: [], location: svcObj.doc.start };
    if (declared.length > 1 || firstPort.name || firstPort.targetPort !== undefined || firstPort.appProtocol) service.ports = declared.map((d) => d.spec);
    for (const pod of selected) {
      const other = claimed.get(pod.o);
      if (other !== undefined) {
        findings.push(
          makeFinding('K8S_DUPLICATE_PORT', `Service ${svcObj.name} selects the pods of ${pod.o.kind} ${pod.o.name}, which Service ${other} already serves: meshbox runs a workload under one Service, ${other}`, {
            location: at(svcObj, ['spec', 'selector'], true),
            hint: 'give each Service its own pods (add a distinguishing label to its selector), or remove one of the Services',
          }),
        );
        continue;
      }
      const w = await workloadOf(pod.o, pod.labels, svcObj.name, { opts, tcpFirst: codecOf(firstPort.protocol) === 'tcp', findings, configMaps, secrets, skaffold: skaffold.artifacts, skaffoldFiles: skaffold.files, reportedBuilders, dirs: set.dirs, watches });
      if (!w) continue;
      claimed.set(pod.o, svcObj.name);
      const podSpec = ((pod.o.value['spec'] as Obj)['template'] as Obj)['spec'] as Obj;
      serviceAccounts[w.workload] = typeof podSpec['serviceAccountName'] === 'string' ? podSpec['serviceAccountName'] : 'default';
      w.serviceAccount = serviceAccounts[w.workload];
      service.workloads.push(w);
    }
    // two workloads of one service at the same version would collide on the subset labels only; allowed
    const watch = watches.get(service.name);
    if (watch) service.watch = watch;
    if (service.workloads.length > 0) out.push(service);
  }
  for (const pod of pods) {
    if (claimed.has(pod.o) || services.some((s) => matches(strMap((s.value['spec'] as Obj)['selector']), pod.labels))) continue;
    findings.push(
      makeFinding('K8S_WORKLOAD_NO_SERVICE', `${pod.o.kind} ${pod.o.name} is selected by no Service: it is not started`, {
        location: pod.o.doc.start,
        hint: `add a Service with \`selector: { app: ${pod.labels['app'] ?? pod.o.name} }\` and its port`,
      }),
    );
  }

  if (out.length === 0) {
    if (!hasErrors(findings)) findings.push(makeFinding('K8S_WORKLOAD_NO_SERVICE', `no Service with a runnable Deployment or StatefulSet in ${paths.join(', ')}`, { hint: 'give meshbox Deployments (or StatefulSets) and the Services that select them', severity: 'error' }));
    return { findings, serviceAccounts };
  }
  const first = resolve(paths[0] ?? '.');
  const firstDir = set.dirs[0] ?? dirname(first);
  const ruleFiles = set.files.filter((f) => set.objects.some((o) => o.file === f && classifyKind(o.apiVersion, o.kind).class !== 'kubernetes'));
  const mesh: MeshDefinition = {
    file: set.files[0] ?? first,
    name: opts.name ?? basename(firstDir),
    namespace: namespace ?? DEFAULT_NAMESPACE,
    ingress: { ...DEFAULT_INGRESS, labels: { ...DEFAULT_INGRESS.labels } },
    services: out,
    ruleFiles,
  };
  return { mesh, findings, serviceAccounts };
}

/**
 * The Kubernetes API's own schema of the object (api-schemas.ts): an unknown field (a typo such as
 * `readinesProbe` would otherwise be silently ignored) or a value a cluster rejects, in a part
 * meshbox does not read (what it reads is checked by ./schemas.ts, as errors), is a warning.
 */
async function apiFindings(o: ManifestObject): Promise<Finding[]> {
  const problems = (await apiSchemaProblems(o.value)) ?? [];
  return problems.map((p) => {
    const where = p.path.length ? p.path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`)).join('').slice(1) : `a ${o.kind}`;
    const message = p.unknown
      ? `${o.kind} ${o.name}: \`${p.unknown.field}\` is not a field of ${where} in the Kubernetes API (1.27 schema): meshbox ignores it, and \`kubectl apply\` rejects it`
      : `${o.kind} ${o.name}: ${where} ${p.message} in the Kubernetes API (1.27 schema): \`kubectl apply\` rejects it`;
    const hint = p.unknown?.suggestion ? `did you mean \`${p.unknown.suggestion}\`?` : p.unknown ? 'remove it, or move it where the API defines it' : 'fix the value before applying to a cluster';
    return makeFinding('K8S_API_SCHEMA', message, { location: p.unknown ? o.doc.locate([...p.path, p.unknown.field], { key: true }) : o.doc.locate(p.path), hint });
  });
}

interface WorkloadContext {
  opts: ImportOptions;
  /** the Service's first port is served as TCP: without a probe, the health check is a TCP connect */
  tcpFirst?: boolean;
  findings: Finding[];
  configMaps: Map<string, Config>;
  secrets: Map<string, Config>;
  skaffold: ReturnType<typeof readSkaffold>['artifacts'];
  /** the skaffold.yaml files found, nearest first */
  skaffoldFiles: string[];
  reportedBuilders: Set<string>;
  dirs: string[];
  /** `images.<image>.watch` of the services' images, by service */
  watches: Map<string, WatchSpec>;
}

async function workloadOf(o: ManifestObject, labels: Record<string, string>, service: string, c: WorkloadContext): Promise<WorkloadSpec | undefined> {
  const spec = o.value['spec'] as Obj;
  const tpl = spec['template'] as Obj;
  const pod = tpl['spec'] as Obj;
  const podPath = ['spec', 'template', 'spec'];
  const annotations = { ...strMap(isObj(o.value['metadata']) ? o.value['metadata']['annotations'] : undefined), ...strMap(isObj(tpl['metadata']) ? tpl['metadata']['annotations'] : undefined) };
  const containers = pod['containers'] as Obj[];
  const container = containers[0]!;
  const cPath = [...podPath, 'containers', 0];

  for (const [field, why] of Object.entries(NOT_HONOURED_POD_FIELDS)) {
    if (pod[field] === undefined) continue;
    c.findings.push(makeFinding('K8S_NOT_HONOURED', `${o.kind} ${o.name}: \`${field}\` is not honoured on one machine (${why})`, { location: at(o, [...podPath, field], true), hint: 'it applies unchanged on a cluster; meshbox ignores it' }));
  }
  for (const [idx, v] of (Array.isArray(pod['volumes']) ? (pod['volumes'] as Obj[]) : []).entries()) {
    if (!isObj(v) || 'emptyDir' in v) continue;
    const kind = Object.keys(v).find((k) => k !== 'name') ?? 'volume';
    c.findings.push(makeFinding('K8S_NOT_HONOURED', `${o.kind} ${o.name}: volume \`${String(v['name'])}\` (${kind}) is not mounted`, { location: at(o, [...podPath, 'volumes', idx]), hint: kind === 'configMap' || kind === 'secret' ? 'use the ConfigMap/Secret as env (`envFrom`) to have meshbox pass it' : 'only emptyDir volumes work as they do in a pod (the app writes where it likes)' }));
  }
  for (let idx = 1; idx < containers.length; idx++) {
    c.findings.push(makeFinding('K8S_NOT_HONOURED', `${o.kind} ${o.name}: container \`${String(containers[idx]!['name'])}\` is not run (meshbox runs the first container; its sidecar is meshbox's own)`, { location: at(o, [...podPath, 'containers', idx]), hint: 'run a helper container as a workload of its own' }));
  }
  if (container['resources'] !== undefined) {
    c.findings.push(makeFinding('K8S_NOT_HONOURED', `${o.kind} ${o.name}: \`resources\` (requests/limits) are not enforced`, { location: at(o, [...cPath, 'resources'], true), hint: 'they apply unchanged on a cluster' }));
  }

  // env, in Kubernetes order: envFrom first, then env (which wins)
  const env: Record<string, string> = {};
  let ok = true;
  const missing = (what: string, name: string, path: Array<string | number>): void => {
    ok = false;
    c.findings.push(makeFinding('K8S_REFERENCE_NOT_FOUND', `${o.kind} ${o.name}: ${what} \`${name}\` is not defined in the manifests`, { location: at(o, path), hint: `add the ${what} to the manifests given with -f (or mark the reference \`optional: true\`)` }));
  };
  for (const [idx, e] of (Array.isArray(container['envFrom']) ? (container['envFrom'] as Obj[]) : []).entries()) {
    const prefix = typeof e['prefix'] === 'string' ? e['prefix'] : '';
    for (const [ref, store, what] of [['configMapRef', c.configMaps, 'ConfigMap'], ['secretRef', c.secrets, 'Secret']] as const) {
      const r = e[ref];
      if (!isObj(r)) continue;
      const found = store.get(String(r['name']));
      if (!found) {
        if (r['optional'] !== true) missing(what, String(r['name']), [...cPath, 'envFrom', idx, ref, 'name']);
        continue;
      }
      for (const [k, v] of Object.entries(found.data)) env[prefix + k] = v;
    }
  }
  for (const [idx, e] of (Array.isArray(container['env']) ? (container['env'] as Obj[]) : []).entries()) {
    const name = String(e['name']);
    if (e['value'] !== undefined) {
      env[name] = String(e['value']);
      continue;
    }
    const from = isObj(e['valueFrom']) ? e['valueFrom'] : undefined;
    if (!from) {
      env[name] = '';
      continue;
    }
    let handled = false;
    for (const [ref, store, what] of [['configMapKeyRef', c.configMaps, 'ConfigMap'], ['secretKeyRef', c.secrets, 'Secret']] as const) {
      const r = from[ref];
      if (!isObj(r)) continue;
      handled = true;
      const found = store.get(String(r['name']));
      const value = found?.data[String(r['key'])];
      if (value === undefined) {
        if (r['optional'] !== true) missing(found ? `key \`${String(r['key'])}\` of ${what}` : what, found ? String(r['name']) : String(r['name']), [...cPath, 'env', idx, 'valueFrom', ref]);
        continue;
      }
      env[name] = value;
    }
    if (isObj(from['fieldRef'])) {
      handled = true;
      const path = String(from['fieldRef']['fieldPath']);
      const known: Record<string, string> = { 'metadata.name': `${o.name}-1`, 'metadata.namespace': 'default', 'spec.serviceAccountName': String(pod['serviceAccountName'] ?? 'default'), 'status.podIP': '127.0.0.1', 'status.hostIP': '127.0.0.1' };
      if (known[path] !== undefined) env[name] = known[path]!;
      else if (path.startsWith('metadata.labels[')) env[name] = labels[path.slice(17, -2)] ?? '';
      else c.findings.push(makeFinding('K8S_NOT_HONOURED', `${o.kind} ${o.name}: env ${name} from \`fieldRef: ${path}\` is not available`, { location: at(o, [...cPath, 'env', idx, 'valueFrom']), hint: 'meshbox provides metadata.name, metadata.namespace, metadata.labels[...], spec.serviceAccountName, status.podIP' }));
    }
    if (!handled) c.findings.push(makeFinding('K8S_NOT_HONOURED', `${o.kind} ${o.name}: env ${name} uses a \`valueFrom\` source meshbox does not provide`, { location: at(o, [...cPath, 'env', idx, 'valueFrom'], true), hint: 'use `value`, `configMapKeyRef`, `secretKeyRef` or `fieldRef`' }));
  }
  if (!ok) return undefined;

  const image = typeof container['image'] === 'string' ? container['image'] : undefined;
  const version = labels['version'] ?? 'v1';
  const w: WorkloadSpec = {
    service,
    version,
    workload: o.name,
    replicas: typeof spec['replicas'] === 'number' ? spec['replicas'] : 1,
    cwd: dirname(o.file),
    env,
    labels: { ...labels, app: labels['app'] ?? service, version },
    // no probe: Kubernetes counts the pod ready once its container runs; meshbox waits for its
    // port to accept connections (never an HTTP path it would have to guess)
    health: { path: '/', ...DEFAULT_HEALTH, kind: 'tcp' },
    startTimeoutMs: DEFAULT_START_TIMEOUT_MS,
  };
  const probeAt = container['readinessProbe'] !== undefined ? 'readinessProbe' : container['livenessProbe'] !== undefined ? 'livenessProbe' : undefined;
  if (probeAt) {
    const p = container[probeAt] as Obj;
    const health = healthOf(p, c.opts.runtime);
    if (health) w.health = health;
    else {
      const kind = 'exec' in p ? 'exec' : 'grpc' in p ? 'grpc' : 'probe';
      const why = kind === 'exec' ? 'exec probes run with the process runtime only (in Docker they would run on the host, not in the container)' : `a ${kind} probe is not supported`;
      c.findings.push(makeFinding('K8S_NOT_HONOURED', `${o.kind} ${o.name}: the ${kind} ${probeAt} is not run (${why}); meshbox checks that the instance's port accepts connections`, { location: at(o, [...cPath, probeAt, kind], true), hint: 'use an `httpGet` or `tcpSocket` probe' }));
    }
    if (typeof p['initialDelaySeconds'] === 'number' && typeof p['failureThreshold'] === 'number' && typeof p['periodSeconds'] === 'number') {
      w.startTimeoutMs = Math.max(DEFAULT_START_TIMEOUT_MS, (p['initialDelaySeconds'] + p['failureThreshold'] * p['periodSeconds']) * 1000);
    }
  }

  if (!probeAt && c.tcpFirst) w.health = { ...w.health, kind: 'tcp' };

  // how to start it; the container's own command/args (none: the image's) are kept as Kubernetes
  // runs them, for Docker and for export
  w.container = {};
  for (const key of ['command', 'args'] as const) if (Array.isArray(container[key])) w.container[key] = (container[key] as unknown[]).map(String);
  if (c.opts.runtime === 'process') {
    const annotated = annotations[COMMAND_ANNOTATION];
    const entry = image ? imageEntry(image, c.opts.images ?? {}) : undefined;
    if (annotated) {
      w.command = commandAnnotation(annotated);
      if (annotations[CWD_ANNOTATION]) w.cwd = resolve(dirname(o.file), annotations[CWD_ANNOTATION]);
    } else if (entry?.command) {
      w.command = entry.command;
      w.cwd = entry.cwd;
      if (entry.watch && !c.watches.has(service)) c.watches.set(service, entry.watch);
      if (entry.health && !probeAt) w.health = { path: entry.health, ...DEFAULT_HEALTH };
    } else {
      c.findings.push(makeFinding('K8S_IMAGE_NOT_RUNNABLE', `${o.kind} ${o.name}: image ${image ?? '(none)'} cannot run as a process: no command given`, { location: at(o, [...cPath, 'image']), hint: notRunnableHint(image ?? o.name, 'process', c.dirs) }));
      return undefined;
    }
    if (image) w.image = image;
    return w;
  }
  if (!image) {
    c.findings.push(makeFinding('MISSING_FIELD', `${o.kind} ${o.name}: the container has no \`image\``, { location: at(o, cPath), hint: 'add `image: <name>` to the container' }));
    return undefined;
  }
  w.image = image;
  if (c.opts.imageExists && (await c.opts.imageExists(image))) return w;
  const { name } = { name: image.replace(/[:@].*$/, '') };
  const artifact = c.skaffold.find((a) => a.image === image || a.image === name || image.startsWith(`${a.image}:`));
  const folder = artifact?.build ? undefined : dockerfileFolder(image, c.dirs);
  if (artifact?.unsupported) {
    // once per artifact; with a Dockerfile folder named like the image, that is built instead (a warning)
    const key = `${artifact.file}#${artifact.index}`;
    if (!c.reportedBuilders.has(key)) {
      c.reportedBuilders.add(key);
      c.findings.push(unsupportedBuilderFinding(artifact, folder));
    }
    if (!folder) return undefined;
  }
  const build = artifact?.build ?? folder;
  if (build) {
    w.build = build;
    return w;
  }
  c.findings.push(makeFinding('K8S_IMAGE_NOT_RUNNABLE', `${o.kind} ${o.name}: image ${image} is not in the local Docker image store and has no build recipe`, { location: at(o, [...cPath, 'image']), hint: notRunnableHint(image, 'docker', c.dirs, c.skaffoldFiles[0]) }));
  return undefined;
}

/** a probe's timing as Kubernetes defaults it: period 10s, timeout 1s, failureThreshold 3 (meshbox's period default: 2s) */
function healthOf(p: Obj, runtime: 'process' | 'docker'): HealthCheckSpec | undefined {
  const timing = {
    intervalMs: typeof p['periodSeconds'] === 'number' ? p['periodSeconds'] * 1000 : DEFAULT_HEALTH.intervalMs,
    timeoutMs: typeof p['timeoutSeconds'] === 'number' ? p['timeoutSeconds'] * 1000 : DEFAULT_HEALTH.timeoutMs,
    unhealthyThreshold: typeof p['failureThreshold'] === 'number' ? p['failureThreshold'] : DEFAULT_HEALTH.unhealthyThreshold,
  };
  const http = p['httpGet'];
  if (isObj(http)) return { path: typeof http['path'] === 'string' && http['path'].startsWith('/') ? http['path'] : '/', ...timing };
  if (isObj(p['tcpSocket'])) return { path: '/', ...timing, kind: 'tcp' };
  const exec = p['exec'];
  if (runtime === 'process' && isObj(exec) && Array.isArray(exec['command']) && exec['command'].length > 0) return { path: '/', ...timing, kind: 'exec', command: exec['command'].map(String) };
  return undefined;
}

/** meshbox.yaml with `kubernetes:`: its own services plus those of the manifests. */
export async function withKubernetes(mesh: MeshDefinition, opts: Omit<ImportOptions, 'images' | 'name'>): Promise<ImportResult> {
  if (!mesh.kubernetes?.paths.length) return { mesh, findings: [], serviceAccounts: {} };
  const imported = await importManifests(mesh.kubernetes.paths, { ...opts, images: mesh.kubernetes.images, name: mesh.name });
  if (!imported.mesh) return { ...imported, mesh: mesh.services.length ? mesh : undefined };
  const findings = [...imported.findings];
  const names = new Set(mesh.services.map((s) => s.name));
  const extra = imported.mesh.services.filter((s) => {
    if (!names.has(s.name)) return true;
    findings.push(makeFinding('MESH_DUPLICATE_WORKLOAD', `service ${s.name} is defined both in ${mesh.file} and in the manifests: the meshbox.yaml one runs`, { location: s.location, hint: 'remove it from one of the two', severity: 'warning' }));
    return false;
  });
  return {
    mesh: { ...mesh, namespace: mesh.namespace, services: [...mesh.services, ...extra], ruleFiles: [...(mesh.ruleFiles ?? []), ...(imported.mesh.ruleFiles ?? [])] },
    findings,
    serviceAccounts: imported.serviceAccounts,
  };
}
