/**
 * `meshbox get <kind> [NAME...] [-l k=v,...] [-o wide|json|yaml|name]`: what a running sandbox
 * holds, as `kubectl get` prints it. Kinds: services (svc), workloads (deploy), pods (po),
 * virtualservices (vs), destinationrules (dr), gateways (gw), faults. A name or a selector that
 * matches nothing is an error (exit 1).
 */
import { closestMatch } from '../../sandbox/config/did-you-mean.js';
import type { MeshObject } from '../../sandbox/admin/describe.js';
import { MeshError } from '../../sandbox/errors.js';
import { adminRequest, expectOk, resolveAdmin } from '../admin-client.js';
import { outputFormat, printData, printTable } from '../output-format.js';
import type { Io } from '../output.js';
import { splitKindName, type KindInfo } from '../resource-kinds.js';

export interface GetOptions {
  admin?: string;
  selector?: string;
  output?: string;
  json?: boolean;
}

export async function fetchObjects(admin: string, kind: KindInfo, selector?: string): Promise<MeshObject[]> {
  const q = selector ? `?labelSelector=${encodeURIComponent(selector)}` : '';
  const body = expectOk(await adminRequest(`${admin}/objects/${kind.plural}${q}`)) as { items: MeshObject[] };
  return body.items;
}

const list = (v: unknown): string => JSON.stringify(v ?? []);
const labels = (l: Record<string, string> | undefined): string => Object.entries(l ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>';
const source = (o: MeshObject): string => o.metadata.annotations?.['meshbox.dev/source'] ?? o.metadata.annotations?.['meshbox.dev/origin'] ?? '-';

function columns(kind: KindInfo, wide: boolean): { headers: string[]; row(o: MeshObject): string[] } {
  const st = (o: MeshObject): Record<string, any> => (o.status ?? {}) as Record<string, any>;
  const sp = (o: MeshObject): Record<string, any> => (o.spec ?? {}) as Record<string, any>;
  switch (kind.plural) {
    case 'services':
      return {
        headers: ['NAME', 'PORT(S)', 'ENDPOINTS', 'VIRTUALSERVICES', 'DESTINATIONRULES', ...(wide ? ['FQDN', 'WORKLOADS'] : [])],
        row: (o) => [
          o.metadata.name,
          (sp(o).ports ?? []).map((p: { port: number; protocol: string }) => `${p.port}/${p.protocol}`).join(','),
          `${st(o).endpoints?.ready ?? 0}/${st(o).endpoints?.total ?? 0}`,
          (st(o).virtualServices ?? []).join(',') || '<none>',
          (st(o).destinationRules ?? []).join(',') || '<none>',
          ...(wide ? [String(st(o).fqdn ?? ''), (st(o).workloads ?? []).join(',')] : []),
        ],
      };
    case 'workloads':
      return {
        headers: ['NAME', 'READY', 'SERVICE', 'VERSION', ...(wide ? ['INSTANCES', 'LABELS'] : [])],
        row: (o) => [
          o.metadata.name,
          `${st(o).readyReplicas ?? 0}/${sp(o).replicas ?? 0}`,
          String(sp(o).service ?? ''),
          String(sp(o).version ?? ''),
          ...(wide ? [(st(o).instances ?? []).join(','), labels(o.metadata.labels)] : []),
        ],
      };
    case 'pods':
      return {
        headers: ['NAME', 'READY', 'STATUS', 'RESTARTS', ...(wide ? ['PID', 'APP-PORT', 'INBOUND', 'OUTBOUND', 'LABELS'] : [])],
        row: (o) => [
          o.metadata.name,
          st(o).ready ? '1/1' : '0/1',
          `${String(st(o).phase ?? '')}${st(o).drained ? ',drained' : ''}`,
          String(st(o).restarts ?? 0),
          ...(wide ? [String(st(o).pid ?? '-'), String(st(o).appPort ?? '-'), String(st(o).sidecar?.inbound ?? '-'), String(st(o).sidecar?.outbound ?? '-'), labels(o.metadata.labels)] : []),
        ],
      };
    case 'virtualservices':
      return {
        headers: ['NAME', 'GATEWAYS', 'HOSTS', ...(wide ? ['SOURCE'] : [])],
        row: (o) => [o.metadata.name, list(sp(o).gateways), list(sp(o).hosts), ...(wide ? [source(o)] : [])],
      };
    case 'destinationrules':
      return {
        headers: ['NAME', 'HOST', 'SUBSETS', ...(wide ? ['SOURCE'] : [])],
        row: (o) => [o.metadata.name, String(sp(o).host ?? ''), (sp(o).subsets ?? []).map((s: { name: string }) => s.name).join(',') || '<none>', ...(wide ? [source(o)] : [])],
      };
    case 'gateways':
      return {
        headers: ['NAME', 'HOSTS', ...(wide ? ['SELECTOR', 'SOURCE'] : [])],
        row: (o) => [
          o.metadata.name,
          list((sp(o).servers ?? []).flatMap((s: { hosts?: string[] }) => s.hosts ?? [])),
          ...(wide ? [labels(sp(o).selector), source(o)] : []),
        ],
      };
    default:
      return {
        headers: ['NAME', 'SERVICE', 'SUBSET', 'ORIGIN', ...(wide ? ['SOURCE'] : [])],
        row: (o) => [
          o.metadata.name,
          String(sp(o).target?.service ?? ''),
          String(sp(o).target?.subset ?? '-'),
          o.metadata.annotations?.['meshbox.dev/origin'] ?? 'file',
          ...(wide ? [source(o)] : []),
        ],
      };
  }
}

export async function runGet(kindWord: string, names: string[], o: GetOptions, io: Io): Promise<number> {
  const format = outputFormat(o, ['table', 'wide', 'json', 'yaml', 'name']);
  // kubectl accepts `get vs/callme-service-route`
  const first = splitKindName(kindWord, undefined);
  const kind = first.kind;
  const wanted = [...(first.name ? [first.name] : []), ...names];
  const admin = resolveAdmin(o.admin);
  let items = await fetchObjects(admin, kind, o.selector);
  if (o.selector && items.length === 0) throw new MeshError('MESH_ERR_NO_MATCH', [`${kind.plural} for the selector ${o.selector}`], { hint: `\`meshbox get ${kind.plural} -o wide\` shows their labels` });
  if (wanted.length > 0) {
    const all = items;
    for (const n of wanted) {
      if (all.some((i) => i.metadata.name === n)) continue;
      const near = closestMatch(n, all.map((i) => i.metadata.name));
      throw new MeshError('MESH_ERR_NOT_FOUND', [kind.plural, n], { hint: near ? `did you mean \`${near}\`? (\`meshbox get ${kind.plural}\` lists them)` : `\`meshbox get ${kind.plural}\` lists them` });
    }
    items = wanted.map((n) => items.find((i) => i.metadata.name === n)!);
  }
  if (format === 'json' || format === 'yaml') {
    printData(io, wanted.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', items }, format);
    return 0;
  }
  if (format === 'name') {
    for (const i of items) io.out(`${kind.resource}/${i.metadata.name}`);
    return 0;
  }
  if (items.length === 0) {
    io.err('No resources found.');
    return 0;
  }
  const c = columns(kind, format === 'wide');
  printTable(io, c.headers, items.map(c.row));
  return 0;
}
