/**
 * What a real cluster's API server checks of a manifest, for the tests: "applies to a real
 * cluster" checked against the real schemas, offline.
 *
 * - Kubernetes kinds (apps/v1 Deployment and StatefulSet; v1 Service, ServiceAccount, Namespace,
 *   ConfigMap, Secret): the validators `kubernetes-models` generates from the Kubernetes API's own
 *   OpenAPI spec (types, required fields, enums, int32/int64 formats), and unknown fields rejected
 *   as `kubectl apply`'s strict field validation does (see sandbox/kubernetes/api-schemas.ts, which
 *   `meshbox up -f` uses for its warnings).
 * - Istio kinds: the CRDs' `openAPIV3Schema` from Istio's crd-all.gen.yaml, vendored unchanged in
 *   test/fixtures/kubernetes-api/istio/ (Apache-2.0), for the apiVersion's served version; closed
 *   as a structural schema is (an object with `properties` and without
 *   `x-kubernetes-preserve-unknown-fields` has no other fields), and their CEL rules
 *   (`x-kubernetes-validations`) evaluated as the API server does on create (with
 *   @marcbachmann/cel-js, plus Kubernetes' `url()`/`isURL()`; transition rules on `oldSelf` do
 *   not apply to a new object).
 * - What the API server checks in code rather than in the schema (k8s.io/apimachinery
 *   pkg/util/validation, k8s.io/kubernetes pkg/apis/core/validation): object names (DNS-1035
 *   label for a Service, DNS-1123 label for a Namespace, DNS-1123 subdomain otherwise), label
 *   keys and values, container names, port names (IANA_SVC_NAME), one handler per probe, and a
 *   Deployment's selector matching its pod template.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { Environment } from '@marcbachmann/cel-js';
import { parseAllDocuments } from 'yaml';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { problemsAgainst } from '../../sandbox/kubernetes/api-schemas.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export const ISTIO_CRDS_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'kubernetes-api', 'istio', 'crd-all.gen.yaml');

interface ModelClass {
  prototype: { validate(): void };
}
const MODELS: Record<string, ModelClass> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
};

/** the kinds this module checks */
export function isCheckedKind(doc: Obj): boolean {
  const key = `${String(doc['apiVersion'])}/${String(doc['kind'])}`;
  return key in MODELS || istioSchema(String(doc['apiVersion']), String(doc['kind'])) !== undefined;
}

// ---- Kubernetes kinds: kubernetes-models' validators, with the fields they read (sandbox/kubernetes/api-schemas.ts) ----

function kubernetesModelErrors(model: ModelClass, doc: Obj): string[] {
  return problemsAgainst(model, doc).map((p) => `/${p.path.join('/')} ${p.message}`);
}

// ---- Istio kinds: the CRDs' openAPIV3Schema ----

let crds: Map<string, Obj> | undefined;
const compiledIstio = new Map<string, ValidateFunction>();
let istioAjv: Ajv | undefined;

function istioCrds(): Map<string, Obj> {
  if (crds) return crds;
  crds = new Map();
  for (const d of parseAllDocuments(readFileSync(ISTIO_CRDS_FILE, 'utf8'))) {
    const crd = d.toJS() as Obj | null;
    if (!isObj(crd) || crd['kind'] !== 'CustomResourceDefinition') continue;
    const spec = crd['spec'] as Obj;
    const kind = String((spec['names'] as Obj)['kind']);
    for (const v of spec['versions'] as Obj[]) {
      if (v['served'] !== true) continue;
      crds.set(`${String(spec['group'])}/${String(v['name'])}/${kind}`, (v['schema'] as Obj)['openAPIV3Schema'] as Obj);
    }
  }
  return crds;
}

/** the structural schema closed: objects that list their properties take no others */
function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (!isObj(schema)) return schema;
  const out: Obj = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' && isObj(v) ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, closed(s)])) : closed(v);
  if (isObj(schema['properties']) && schema['additionalProperties'] === undefined && schema['x-kubernetes-preserve-unknown-fields'] !== true) out['additionalProperties'] = false;
  return out;
}

function istioSchema(apiVersion: string, kind: string): Obj | undefined {
  return istioCrds().get(`${apiVersion}/${kind}`);
}

function istioValidator(apiVersion: string, kind: string): ValidateFunction | undefined {
  const key = `${apiVersion}/${kind}`;
  const hit = compiledIstio.get(key);
  if (hit) return hit;
  const schema = istioSchema(apiVersion, kind);
  if (!schema) return undefined;
  if (!istioAjv) {
    // the x-kubernetes-* keywords are annotations to ajv; the formats are OpenAPI's
    istioAjv = new Ajv({ allErrors: true, strict: false });
    istioAjv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
    istioAjv.addFormat('double', { type: 'number', validate: () => true });
    istioAjv.addFormat('byte', /^[A-Za-z0-9+/]*={0,2}$/);
    istioAjv.addFormat('date-time', (s: string) => !Number.isNaN(Date.parse(s)));
  }
  // the top level: what every object has, metadata checked as ObjectMeta below
  const root = closed(schema) as Obj;
  const properties = { ...(root['properties'] as Obj), apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' } };
  const validate = istioAjv.compile({ ...root, properties, required: [...((root['required'] as string[]) ?? []), 'apiVersion', 'kind', 'metadata'] });
  compiledIstio.set(key, validate);
  return validate;
}

// ---- the CRDs' CEL rules ----

class CelUrl {
  constructor(readonly url: URL) {}
}

let cel: Environment | undefined;
function celEnvironment(): Environment {
  cel ??= new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false })
    .registerType('URL', CelUrl)
    // Kubernetes' URL library: an absolute URI (or an absolute path)
    .registerFunction('isURL(string): bool', (s: string) => URL.canParse(s) || s.startsWith('/'))
    .registerFunction('url(string): URL', (s: string) => {
      if (!URL.canParse(s)) throw new Error(`url: ${s} is not a URL`);
      return new CelUrl(new URL(s));
    })
    .registerFunction({ name: 'getScheme', receiverType: 'URL', returnType: 'string', handler: (u: CelUrl) => u.url.protocol.replace(/:$/, ''), params: [] });
  return cel;
}

/** the value as CEL sees it under its schema: integers are ints (BigInt), numbers doubles */
function celValue(value: unknown, schema: Obj | undefined): unknown {
  if (!schema) return value;
  if (schema['type'] === 'integer' && typeof value === 'number') return BigInt(value);
  if (Array.isArray(value)) return value.map((v) => celValue(v, isObj(schema['items']) ? schema['items'] : undefined));
  if (isObj(value)) {
    const props = isObj(schema['properties']) ? schema['properties'] : {};
    const extra = isObj(schema['additionalProperties']) ? schema['additionalProperties'] : undefined;
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, celValue(v, isObj(props[k]) ? props[k] : extra)]));
  }
  return value;
}

/** every `x-kubernetes-validations` rule of the schema on the value it applies to */
function celErrors(value: unknown, schema: Obj, at: string, out: string[]): void {
  if (value === undefined || value === null) return;
  const rules = Array.isArray(schema['x-kubernetes-validations']) ? (schema['x-kubernetes-validations'] as Obj[]) : [];
  for (const r of rules) {
    const rule = String(r['rule']);
    if (/\boldSelf\b/.test(rule)) continue; // a transition rule: not checked on create
    let ok: unknown;
    try {
      ok = celEnvironment().evaluate(rule, { self: celValue(value, schema) });
    } catch (e) {
      ok = `${(e as Error).message}`;
    }
    if (ok !== true) out.push(`${at || '/'} ${String(r['message'] ?? `failed rule: ${rule}`)}${typeof ok === 'string' ? ` (${ok})` : ''}`);
  }
  if (Array.isArray(value) && isObj(schema['items'])) value.forEach((v, i) => celErrors(v, schema['items'] as Obj, `${at}/${i}`, out));
  if (isObj(value)) {
    const props = isObj(schema['properties']) ? schema['properties'] : {};
    const extra = isObj(schema['additionalProperties']) ? schema['additionalProperties'] : undefined;
    for (const [k, v] of Object.entries(value)) {
      const s = isObj(props[k]) ? props[k] : extra;
      if (s) celErrors(v, s, `${at}/${k}`, out);
    }
  }
}

// ---- what the API server checks in code ----

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

const isLabel = (s: string, re = DNS1123_LABEL): boolean => s.length <= 63 && re.test(s);
const isSubdomain = (s: string): boolean => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
/** IANA_SVC_NAME: at most 15 characters, lowercase letters, digits and '-', at least one letter, no '--' */
const isPortName = (s: string): boolean => s.length <= 15 && /^[-a-z0-9]+$/.test(s) && /[a-z]/.test(s) && !s.includes('--') && !s.startsWith('-') && !s.endsWith('-');

function labelErrors(labels: unknown, at: string): string[] {
  if (!isObj(labels)) return [];
  const errors: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    const slash = k.indexOf('/');
    const [prefix, name] = slash >= 0 ? [k.slice(0, slash), k.slice(slash + 1)] : [undefined, k];
    if ((prefix !== undefined && !isSubdomain(prefix)) || name.length > 63 || !QUALIFIED_NAME.test(name)) errors.push(`${at} label key "${k}" is not a qualified name`);
    if (typeof v === 'string' && v !== '' && (v.length > 63 || !QUALIFIED_NAME.test(v))) errors.push(`${at} label value "${v}" of ${k} is not a valid label value`);
  }
  return errors;
}

function nameErrors(doc: Obj): string[] {
  const meta = isObj(doc['metadata']) ? doc['metadata'] : {};
  const name = typeof meta['name'] === 'string' ? meta['name'] : '';
  const errors = [...labelErrors(meta['labels'], '/metadata/labels')];
  const kind = String(doc['kind']);
  const ok = kind === 'Service' ? isLabel(name, DNS1035_LABEL) : kind === 'Namespace' ? isLabel(name) : isSubdomain(name);
  if (!ok) errors.push(`/metadata/name "${name}" is not a valid ${kind} name (${kind === 'Service' ? 'DNS-1035 label' : kind === 'Namespace' ? 'DNS-1123 label' : 'DNS-1123 subdomain'})`);
  if (typeof meta['namespace'] === 'string' && !isLabel(meta['namespace'])) errors.push(`/metadata/namespace "${meta['namespace']}" is not a DNS-1123 label`);
  return errors;
}

function podErrors(doc: Obj): string[] {
  const spec = isObj(doc['spec']) ? doc['spec'] : {};
  const tpl = isObj(spec['template']) ? spec['template'] : {};
  const labels = isObj(tpl['metadata']) && isObj(tpl['metadata']['labels']) ? (tpl['metadata']['labels'] as Obj) : {};
  const errors = labelErrors(labels, '/spec/template/metadata/labels');
  const selector = isObj(spec['selector']) && isObj(spec['selector']['matchLabels']) ? (spec['selector']['matchLabels'] as Obj) : {};
  if (Object.keys(selector).length === 0) errors.push('/spec/selector empty selector is invalid for a workload');
  for (const [k, v] of Object.entries(selector)) if (labels[k] !== v) errors.push(`/spec/template/metadata/labels \`selector\` does not match template \`labels\` (${k})`);
  const pod = isObj(tpl['spec']) ? tpl['spec'] : {};
  if (typeof pod['serviceAccountName'] === 'string' && !isSubdomain(pod['serviceAccountName'])) errors.push(`/spec/template/spec/serviceAccountName "${pod['serviceAccountName']}" is not a DNS-1123 subdomain`);
  const containers = Array.isArray(pod['containers']) ? pod['containers'] : [];
  containers.forEach((c, i) => {
    if (!isObj(c)) return;
    const at = `/spec/template/spec/containers/${i}`;
    if (typeof c['name'] === 'string' && !isLabel(c['name'])) errors.push(`${at}/name "${String(c['name'])}" is not a DNS-1123 label`);
    const portNames = new Set<string>();
    for (const [j, p] of (Array.isArray(c['ports']) ? c['ports'] : []).entries()) {
      if (!isObj(p)) continue;
      if (typeof p['name'] === 'string') {
        if (!isPortName(p['name'])) errors.push(`${at}/ports/${j}/name "${p['name']}" is not an IANA_SVC_NAME`);
        portNames.add(p['name']);
      }
      if (typeof p['containerPort'] === 'number' && (p['containerPort'] < 1 || p['containerPort'] > 65535)) errors.push(`${at}/ports/${j}/containerPort ${p['containerPort']} is not in 1..65535`);
    }
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const p = c[probe];
      if (!isObj(p)) continue;
      const handlers = ['exec', 'httpGet', 'tcpSocket', 'grpc'].filter((h) => p[h] !== undefined);
      if (handlers.length !== 1) errors.push(`${at}/${probe} must specify exactly one handler (has ${handlers.join(', ') || 'none'})`);
      for (const h of ['httpGet', 'tcpSocket']) {
        const port = isObj(p[h]) ? p[h]['port'] : undefined;
        if (typeof port === 'string' && !portNames.has(port)) errors.push(`${at}/${probe}/${h}/port "${port}" names no port of the container`);
      }
    }
  });
  return errors;
}

function serviceErrors(doc: Obj): string[] {
  const spec = isObj(doc['spec']) ? doc['spec'] : {};
  const ports = Array.isArray(spec['ports']) ? spec['ports'] : [];
  const errors = labelErrors(spec['selector'], '/spec/selector');
  if (ports.length === 0 && spec['type'] !== 'ExternalName' && spec['clusterIP'] !== 'None') errors.push('/spec/ports a Service needs at least one port');
  const names = new Set<string>();
  const numbers = new Set<string>();
  ports.forEach((p, i) => {
    if (!isObj(p)) return;
    const name = typeof p['name'] === 'string' ? p['name'] : '';
    if (ports.length > 1 && name === '') errors.push(`/spec/ports/${i}/name is required when a Service has more than one port`);
    if (name && !isLabel(name)) errors.push(`/spec/ports/${i}/name "${name}" is not a DNS-1123 label`);
    if (names.has(name) && name) errors.push(`/spec/ports/${i}/name "${name}" is a duplicate`);
    names.add(name);
    const key = `${String(p['port'])}/${String(p['protocol'] ?? 'TCP')}`;
    if (numbers.has(key)) errors.push(`/spec/ports/${i} port ${key} is a duplicate`);
    numbers.add(key);
    if (typeof p['targetPort'] === 'string' && !isPortName(p['targetPort'])) errors.push(`/spec/ports/${i}/targetPort "${p['targetPort']}" is not an IANA_SVC_NAME`);
  });
  return errors;
}

/**
 * Everything the API server would reject in `doc` (empty: it applies), as `path message` lines.
 * Throws for a kind this module does not check, so a test cannot pass by checking nothing.
 */
export function apiServerErrors(doc: unknown): string[] {
  if (!isObj(doc)) return ['/ is not an object'];
  const apiVersion = String(doc['apiVersion']);
  const kind = String(doc['kind']);
  const model = MODELS[`${apiVersion}/${kind}`];
  if (model) {
    const errors = [...kubernetesModelErrors(model, doc), ...nameErrors(doc)];
    if (kind === 'Deployment' || kind === 'StatefulSet') errors.push(...podErrors(doc));
    if (kind === 'Service') errors.push(...serviceErrors(doc));
    return errors;
  }
  const validate = istioValidator(apiVersion, kind);
  if (!validate) throw new Error(`apiServerErrors: no schema for ${apiVersion} ${kind}`);
  const errors = validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`);
  // the CEL rules run on an object the schema accepts
  if (errors.length === 0) celErrors(doc, istioSchema(apiVersion, kind)!, '', errors);
  // a custom resource's metadata is an ObjectMeta, as every object's
  errors.push(...kubernetesModelErrors(ConfigMap, { apiVersion: 'v1', kind: 'ConfigMap', metadata: doc['metadata'] }), ...nameErrors(doc));
  return errors;
}

/** every document of every YAML file given, with its file */
export function documentsOf(files: readonly string[]): Array<{ file: string; doc: Obj }> {
  return files.flatMap((file) =>
    parseAllDocuments(readFileSync(file, 'utf8'))
      .map((d) => d.toJS() as unknown)
      .filter(isObj)
      .map((doc) => ({ file, doc })),
  );
}
