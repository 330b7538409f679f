/**
 * Kubernetes manifests as `kubectl apply -f` / `kubectl apply -k` read them, with positions:
 *
 * - a file: every YAML document in it;
 * - a folder with `kustomization.yaml` (or .yml, `Kustomization`): expanded as kustomize does for
 *   `resources` (files and kustomize folders), `images` (newName/newTag/digest), `namePrefix`
 *   and `commonLabels` (added to metadata, selectors and pod templates); other kustomize fields
 *   are reported as not honoured;
 * - any other folder: its *.yaml / *.yml files (not its subfolders, as `kubectl apply -f DIR`).
 *
 * Each object keeps its YamlDocument, so every finding points at `file:line:col`.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Finding } from '../config/findings.js';
import { makeFinding } from '../config/codes.js';
import { isObj } from '../config/checks/guards.js';
import { parseYaml, type YamlDocument } from '../config/yaml-source.js';

export interface ManifestObject {
  apiVersion: string;
  kind: string;
  name: string;
  /** the plain value (mutated by kustomize transforms) */
  value: Record<string, unknown>;
  doc: YamlDocument;
  /** the file the object was read from */
  file: string;
}

export interface ManifestSet {
  objects: ManifestObject[];
  /** every YAML file read (for Istio kinds: they are applied as rules from these files) */
  files: string[];
  /** folders the manifests came from, nearest first (where skaffold.yaml and image folders are looked for) */
  dirs: string[];
  findings: Finding[];
}

const KUSTOMIZATION_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const HONOURED_KUSTOMIZE = new Set(['apiVersion', 'kind', 'resources', 'images', 'namePrefix', 'commonLabels', 'namespace']);

async function kindOf(path: string): Promise<'file' | 'dir' | undefined> {
  try {
    const s = await stat(path);
    return s.isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

async function kustomizationIn(dir: string): Promise<string | undefined> {
  for (const n of KUSTOMIZATION_NAMES) if ((await kindOf(join(dir, n))) === 'file') return join(dir, n);
  return undefined;
}

/** Reads manifests from files and folders. Never throws: problems are findings. */
export async function readManifests(paths: readonly string[]): Promise<ManifestSet> {
  const set: ManifestSet = { objects: [], files: [], dirs: [], findings: [] };
  for (const p of paths) {
    const abs = resolve(p);
    const k = await kindOf(abs);
    if (!k) {
      set.findings.push(makeFinding('PATH_NOT_FOUND', `${p} does not exist`, { hint: 'give a Kubernetes manifest file or a folder of them (`-f DIR|FILE`)' }));
      continue;
    }
    const dir = k === 'dir' ? abs : dirname(abs);
    if (!set.dirs.includes(dir)) set.dirs.push(dir);
    if (k === 'file') {
      await readFileInto(abs, set);
      continue;
    }
    const kz = await kustomizationIn(abs);
    if (kz) {
      const sub = await expandKustomization(kz, new Set());
      set.objects.push(...sub.objects);
      set.findings.push(...sub.findings);
      for (const f of sub.files) if (!set.files.includes(f)) set.files.push(f);
      continue;
    }
    const names = (await readdir(abs)).filter((n) => /\.ya?ml$/i.test(n) && !/^skaffold\.ya?ml$/i.test(n)).sort();
    if (names.length === 0) set.findings.push(makeFinding('FOLDER_EMPTY', `${p} holds no *.yaml or *.yml file`, { hint: 'put the manifests in it, or give the files with -f' }));
    for (const n of names) await readFileInto(join(abs, n), set);
  }
  return set;
}

async function readFileInto(file: string, set: Pick<ManifestSet, 'objects' | 'files' | 'findings'>): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    set.findings.push(makeFinding('FILE_UNREADABLE', `${file} cannot be read: ${e instanceof Error ? e.message : String(e)}`, { hint: 'check the path and its permissions' }));
    return;
  }
  if (!set.files.includes(file)) set.files.push(file);
  const parsed = parseYaml(text, file);
  set.findings.push(...parsed.findings);
  for (const doc of parsed.documents) {
    if (doc.broken) continue;
    const v = doc.value;
    if (!isObj(v)) {
      set.findings.push(makeFinding('DOCUMENT_NOT_OBJECT', 'this document is not a mapping (a Kubernetes object has `apiVersion`, `kind`, `metadata`)', { location: doc.start, hint: 'write the object as `key: value` lines' }));
      continue;
    }
    if (typeof v['apiVersion'] !== 'string' || typeof v['kind'] !== 'string') {
      set.findings.push(makeFinding('DOCUMENT_NO_KIND', 'this document has no `apiVersion` or no `kind`', { location: doc.start, hint: 'start it with e.g. `apiVersion: apps/v1` and `kind: Deployment`' }));
      continue;
    }
    const meta = isObj(v['metadata']) ? v['metadata'] : {};
    set.objects.push({ apiVersion: v['apiVersion'], kind: v['kind'], name: typeof meta['name'] === 'string' ? meta['name'] : '', value: v as Record<string, unknown>, doc, file });
  }
}

interface KustomizeImage {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

async function expandKustomization(file: string, seen: Set<string>): Promise<{ objects: ManifestObject[]; files: string[]; findings: Finding[] }> {
  const out = { objects: [] as ManifestObject[], files: [file], findings: [] as Finding[] };
  if (seen.has(file)) {
    out.findings.push(makeFinding('K8S_KUSTOMIZE', `${file} includes itself through its resources`, { hint: 'remove the cycle from `resources:`' }));
    return out;
  }
  seen.add(file);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) {
    out.findings.push(makeFinding('FILE_UNREADABLE', `${file} cannot be read`, { hint: 'check its permissions' }));
    return out;
  }
  const parsed = parseYaml(text, file);
  out.findings.push(...parsed.findings);
  const doc = parsed.documents[0];
  if (!doc || doc.broken || !isObj(doc.value)) return out;
  const k = doc.value;
  for (const key of Object.keys(k)) {
    if (HONOURED_KUSTOMIZE.has(key)) continue;
    out.findings.push(makeFinding('K8S_NOT_HONOURED', `kustomization \`${key}\` is not applied by meshbox (it applies resources, images, namePrefix, commonLabels)`, { location: doc.locate([key], { key: true }), hint: 'render the project with `kubectl kustomize DIR > all.yaml` and run `meshbox up -f all.yaml`' }));
  }
  const dir = dirname(file);
  const resources = Array.isArray(k['resources']) ? k['resources'] : [];
  for (const [i, r] of resources.entries()) {
    if (typeof r !== 'string') continue;
    const target = resolve(dir, r);
    const kind = await kindOf(target);
    const location = doc.locate(['resources', i]);
    if (!kind) {
      out.findings.push(makeFinding('K8S_KUSTOMIZE', `resource ${r} does not exist (relative to ${dir})`, { location, hint: 'fix the path in `resources:` or remove it' }));
      continue;
    }
    if (kind === 'file') {
      await readFileInto(target, out);
      continue;
    }
    const sub = await kustomizationIn(target);
    if (!sub) {
      out.findings.push(makeFinding('K8S_KUSTOMIZE', `resource ${r} is a folder without a kustomization.yaml`, { location, hint: 'add a kustomization.yaml to it, or list its files in `resources:`' }));
      continue;
    }
    const nested = await expandKustomization(sub, seen);
    out.objects.push(...nested.objects);
    out.findings.push(...nested.findings);
    out.files.push(...nested.files.filter((f) => !out.files.includes(f)));
  }
  const images = Array.isArray(k['images']) ? (k['images'].filter(isObj) as unknown as KustomizeImage[]) : [];
  const prefix = typeof k['namePrefix'] === 'string' ? k['namePrefix'] : '';
  const labels = isObj(k['commonLabels']) ? Object.fromEntries(Object.entries(k['commonLabels']).map(([a, b]) => [a, String(b)])) : {};
  const namespace = typeof k['namespace'] === 'string' ? k['namespace'] : undefined;
  for (const o of out.objects) {
    transform(o, { images, prefix, labels });
    if (namespace && o.kind !== 'Namespace') (o.value['metadata'] as Record<string, unknown>)['namespace'] = namespace;
  }
  return out;
}

/** kustomize's image reference rewrite: `name[:tag][@digest]` with newName/newTag/digest. */
export function rewriteImage(image: string, rules: readonly KustomizeImage[]): string {
  const { name, tag, digest } = splitImage(image);
  const rule = rules.find((r) => r.name === name);
  if (!rule) return image;
  const n = rule.newName ?? name;
  if (rule.digest) return `${n}@${rule.digest}`;
  if (rule.newTag) return `${n}:${rule.newTag}`;
  return `${n}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`;
}

/** `registry:5000/team/app:1.2@sha256:..` -> name `registry:5000/team/app`, tag `1.2`, digest. */
export function splitImage(image: string): { name: string; tag?: string; digest?: string } {
  let rest = image;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) return { name: rest.slice(0, colon), tag: rest.slice(colon + 1), ...(digest ? { digest } : {}) };
  return { name: rest, ...(digest ? { digest } : {}) };
}

function podSpecs(o: ManifestObject): Array<Record<string, unknown>> {
  const spec = o.value['spec'];
  if (!isObj(spec)) return [];
  const tpl = spec['template'];
  return isObj(tpl) && isObj(tpl['spec']) ? [tpl['spec']] : [];
}

function addLabels(target: Record<string, unknown>, key: string, labels: Record<string, string>): void {
  const cur = isObj(target[key]) ? target[key] : {};
  target[key] = { ...cur, ...labels };
}

function transform(o: ManifestObject, t: { images: KustomizeImage[]; prefix: string; labels: Record<string, string> }): void {
  const meta = isObj(o.value['metadata']) ? o.value['metadata'] : (o.value['metadata'] = {});
  if (t.prefix && o.name && !o.kind.endsWith('Kustomization')) {
    o.name = `${t.prefix}${o.name}`;
    (meta as Record<string, unknown>)['name'] = o.name;
  }
  if (Object.keys(t.labels).length) {
    addLabels(meta as Record<string, unknown>, 'labels', t.labels);
    const spec = o.value['spec'];
    if (isObj(spec)) {
      if (o.kind === 'Service') addLabels(spec, 'selector', t.labels);
      if (isObj(spec['selector']) && o.kind !== 'Service') addLabels(spec['selector'], 'matchLabels', t.labels);
      const tpl = spec['template'];
      if (isObj(tpl)) {
        if (!isObj(tpl['metadata'])) tpl['metadata'] = {};
        addLabels(tpl['metadata'] as Record<string, unknown>, 'labels', t.labels);
      }
    }
  }
  for (const pod of podSpecs(o)) {
    for (const key of ['containers', 'initContainers']) {
      const list = pod[key];
      if (!Array.isArray(list)) continue;
      for (const c of list) {
        if (!isObj(c)) continue;
        if (typeof c['image'] === 'string' && t.images.length) c['image'] = rewriteImage(c['image'], t.images);
        if (!t.prefix) continue;
        // kustomize also prefixes the names of the ConfigMaps and Secrets a pod references
        for (const e of Array.isArray(c['env']) ? c['env'] : []) {
          const from = isObj(e) && isObj(e['valueFrom']) ? e['valueFrom'] : undefined;
          for (const ref of ['configMapKeyRef', 'secretKeyRef']) if (from && isObj(from[ref]) && typeof from[ref]['name'] === 'string') from[ref]['name'] = t.prefix + from[ref]['name'];
        }
        for (const e of Array.isArray(c['envFrom']) ? c['envFrom'] : []) {
          for (const ref of ['configMapRef', 'secretRef']) if (isObj(e) && isObj(e[ref]) && typeof e[ref]['name'] === 'string') e[ref]['name'] = t.prefix + e[ref]['name'];
        }
      }
    }
  }
}

/** the folder name an image is looked for under: the last path segment of its name */
export function imageFolderName(image: string): string {
  return basename(splitImage(image).name);
}
