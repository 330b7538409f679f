/**
 * The Kubernetes API's own schemas for the kinds meshbox reads (apps/v1 Deployment, StatefulSet;
 * v1 Service, ServiceAccount, Namespace, ConfigMap, Secret): the validators `kubernetes-models`
 * generates from the Kubernetes OpenAPI spec (types, required fields, enums, int32/int64 formats).
 *
 * The OpenAPI spec leaves objects open, but `kubectl apply` (field validation `Strict`, its
 * default) rejects a field the schema does not define. Unknown fields are found by watching which
 * properties the generated validator reads of each object of the manifest: it reads every
 * property its schema defines (present or not), and iterates the keys of a map, so the fields an
 * object may have are the spec's, not a list of ours. An object whose type defines no properties
 * (free-form) is read by nothing and not checked.
 *
 * import-mesh.ts reports what this finds as warnings (`MB4011`): meshbox ignores an unknown field,
 * a cluster rejects it. The models load on first use (~90 ms), only when manifests are read.
 */
import { closestMatch } from '../config/did-you-mean.js';

export interface KubernetesModel {
  prototype: { validate(): void };
}

export interface ApiSchemaProblem {
  /** where, in the object (array indices as numbers) */
  path: Array<string | number>;
  message: string;
  /** set for a field the schema does not define at `path` */
  unknown?: { field: string; suggestion?: string };
}

const LOADERS: Record<string, () => Promise<KubernetesModel>> = {
  'apps/v1/Deployment': async () => (await import('kubernetes-models/apps/v1/Deployment')).Deployment,
  'apps/v1/StatefulSet': async () => (await import('kubernetes-models/apps/v1/StatefulSet')).StatefulSet,
  'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service,
  'v1/ServiceAccount': async () => (await import('kubernetes-models/v1/ServiceAccount')).ServiceAccount,
  'v1/Namespace': async () => (await import('kubernetes-models/v1/Namespace')).Namespace,
  'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap,
  'v1/Secret': async () => (await import('kubernetes-models/v1/Secret')).Secret,
};
const loaded = new Map<string, Promise<KubernetesModel>>();

/** the model of `apiVersion`/`kind`, undefined for a kind this module does not check */
export function modelOf(apiVersion: string, kind: string): Promise<KubernetesModel> | undefined {
  const key = `${apiVersion}/${kind}`;
  const load = LOADERS[key];
  if (!load) return undefined;
  let p = loaded.get(key);
  if (!p) {
    p = load();
    loaded.set(key, p);
  }
  return p;
}

interface Seen {
  path: Array<string | number>;
  target: Record<string, unknown>;
  read: Set<string>;
  enumerated: boolean;
}

/** a deep proxy of `value` recording, per object, the properties read and whether its keys were iterated */
function tracked(value: unknown, path: Array<string | number>, seen: Map<string, Seen>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    return new Proxy(value, {
      get: (t, p, r) => (typeof p === 'string' && /^\d+$/.test(p) ? tracked(t[Number(p)], [...path, Number(p)], seen) : Reflect.get(t, p, r)),
    });
  }
  const key = JSON.stringify(path);
  const record: Seen = seen.get(key) ?? { path, target: value as Record<string, unknown>, read: new Set(), enumerated: false };
  seen.set(key, record);
  return new Proxy(value as Record<string, unknown>, {
    get(t, p, r) {
      if (typeof p !== 'string') return Reflect.get(t, p, r);
      record.read.add(p);
      return tracked(t[p], [...path, p], seen);
    },
    has(t, p) {
      if (typeof p === 'string') record.read.add(p);
      return Reflect.has(t, p);
    },
    ownKeys(t) {
      record.enumerated = true;
      return Reflect.ownKeys(t);
    },
  });
}

/** `/spec/ports/0` -> ['spec', 'ports', 0], indices where the value is an array */
function pathOf(pointer: string, doc: unknown): Array<string | number> {
  const out: Array<string | number> = [];
  let cur: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const step: string | number = Array.isArray(cur) && /^\d+$/.test(seg) ? Number(seg) : seg;
    out.push(step);
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[step] : undefined;
  }
  return out;
}

/** What the API server's schema says of `doc`: invalid values and unknown fields (empty: it applies). */
export function problemsAgainst(model: KubernetesModel, doc: Record<string, unknown>): ApiSchemaProblem[] {
  const seen = new Map<string, Seen>();
  const problems: ApiSchemaProblem[] = [];
  try {
    model.prototype.validate.call(tracked(doc, [], seen));
  } catch (e) {
    const list = (e as { errors?: Array<{ instancePath: string; message?: string; params?: Record<string, unknown> }> }).errors;
    if (!list) throw e;
    for (const x of list) {
      const extra = x.params?.['missingProperty'] !== undefined ? ` (${String(x.params['missingProperty'])})` : x.params?.['allowedValues'] !== undefined ? `: ${(x.params['allowedValues'] as unknown[]).map(String).join(', ')}` : '';
      problems.push({ path: pathOf(x.instancePath, doc), message: `${x.message ?? 'is invalid'}${extra}` });
    }
  }
  for (const s of seen.values()) {
    if (s.enumerated || s.read.size === 0) continue;
    for (const field of Object.keys(s.target)) {
      if (s.read.has(field)) continue;
      const suggestion = closestMatch(field, s.read);
      problems.push({ path: s.path, message: `unknown field "${field}"`, unknown: { field, ...(suggestion ? { suggestion } : {}) } });
    }
  }
  return problems;
}

/** problemsAgainst with the model of the object's own apiVersion/kind; undefined for a kind not checked */
export async function apiSchemaProblems(doc: Record<string, unknown>): Promise<ApiSchemaProblem[] | undefined> {
  const model = modelOf(String(doc['apiVersion']), String(doc['kind']));
  return model ? problemsAgainst(await model, doc) : undefined;
}
