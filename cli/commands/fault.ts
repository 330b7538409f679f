/**
 * `meshbox fault add|ls|rm`: runtime faults on a running sandbox (layered on the rule files,
 * optional TTL). Flags build a FaultSpec (sandbox/faults/fault-spec.ts); the sandbox validates it.
 */
import { parseDuration } from '../../sandbox/config/duration.js';
import { describeFault } from '../../sandbox/faults/describe-fault.js';
import type { FaultRecord, FaultSpec, ToxicSpec, ToxicType } from '../../sandbox/faults/fault-spec.js';
import { MeshError } from '../../sandbox/errors.js';
import { adminRequest, expectOk, resolveAdmin } from '../admin-client.js';
import type { Io } from '../output.js';

export interface FaultAddOptions {
  admin?: string;
  subset?: string;
  source?: string;
  name?: string;
  abort?: number;
  abortBody?: string;
  abortHeader?: string[];
  delay?: string;
  reset?: 'request' | 'response';
  slowBody?: number;
  percent?: number;
  path?: string;
  method?: string;
  header?: string[];
  toxic?: ToxicType;
  stream?: 'upstream' | 'downstream';
  toxicity?: number;
  attr?: string[];
  ttl?: string;
  json?: boolean;
}

function pairs(list: string[] | undefined, what: string): Record<string, string> | undefined {
  if (!list || list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const item of list) {
    const i = item.indexOf('=');
    if (i <= 0) throw new MeshError('MESH_ERR_USAGE', [`${what} "${item}" is not key=value`]);
    out[item.slice(0, i).trim()] = item.slice(i + 1).trim();
  }
  return out;
}

function duration(text: string, flag: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new MeshError('MESH_ERR_USAGE', [`${flag} ${text} is not a duration`], { hint: 'write e.g. 200ms, 1.5s or 2m' });
  }
}

export function faultSpecFromFlags(service: string, o: FaultAddOptions): FaultSpec {
  const spec: FaultSpec = { target: { service } };
  if (o.name) spec.name = o.name;
  if (o.subset) spec.target.subset = o.subset;
  if (o.source) spec.target.source = o.source;
  const percent = o.percent;
  const http: NonNullable<FaultSpec['http']> = {};
  if (o.abort !== undefined) http.abort = { httpStatus: o.abort, percent, body: o.abortBody, headers: pairs(o.abortHeader, '--abort-header') };
  if (o.delay !== undefined) http.delay = { fixedDelayMs: duration(o.delay, '--delay'), percent };
  if (o.reset !== undefined) http.reset = { phase: o.reset, percent };
  if (o.slowBody !== undefined) http.slowBody = { bytesPerSecond: o.slowBody, percent };
  if (Object.keys(http).length > 0) spec.http = JSON.parse(JSON.stringify(http)) as NonNullable<FaultSpec['http']>;
  if (o.toxic) {
    const attributes: Record<string, number> = {};
    for (const [k, v] of Object.entries(pairs(o.attr, '--attr') ?? {})) {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new MeshError('MESH_ERR_USAGE', [`--attr ${k}=${v}: the value must be a number`]);
      attributes[k] = n;
    }
    const toxic: ToxicSpec = { type: o.toxic, attributes };
    if (o.stream) toxic.stream = o.stream;
    if (o.toxicity !== undefined) toxic.toxicity = o.toxicity;
    spec.toxics = [toxic];
  }
  if (o.path || o.method || o.header) {
    spec.match = JSON.parse(JSON.stringify({ pathPrefix: o.path, method: o.method, headers: pairs(o.header, '--header') })) as FaultSpec['match'];
  }
  if (o.ttl) spec.ttlMs = duration(o.ttl, '--ttl');
  if (!spec.http && !spec.toxics) {
    throw new MeshError('MESH_ERR_USAGE', ['nothing to inject'], { hint: 'give --abort, --delay, --reset, --slow-body or --toxic' });
  }
  return spec;
}

export async function runFaultAdd(service: string, o: FaultAddOptions, io: Io): Promise<number> {
  const admin = resolveAdmin(o.admin);
  const record = expectOk(await adminRequest(`${admin}/faults`, 'POST', faultSpecFromFlags(service, o))) as FaultRecord;
  if (o.json) io.out(JSON.stringify(record, null, 2));
  else io.out(`added fault ${record.name}: ${describeFault(record.spec)}`);
  return 0;
}

export async function runFaultList(o: { admin?: string; json?: boolean }, io: Io): Promise<number> {
  const admin = resolveAdmin(o.admin);
  const { faults } = expectOk(await adminRequest(`${admin}/faults`)) as { faults: FaultRecord[] };
  if (o.json) {
    io.out(JSON.stringify(faults, null, 2));
    return 0;
  }
  if (faults.length === 0) {
    io.out('no active faults');
    return 0;
  }
  for (const f of faults) {
    const left = f.expiresAt ? `  expires in ${Math.max(0, Math.round((f.expiresAt - Date.now()) / 1000))}s` : '';
    io.out(`${f.name.padEnd(32)} ${f.origin === 'file' ? `file ${f.source}` : 'runtime'}  ${describeFault(f.spec)}${left}`);
  }
  return 0;
}

export async function runFaultRemove(names: string[], o: { admin?: string; all?: boolean }, io: Io): Promise<number> {
  const admin = resolveAdmin(o.admin);
  if (o.all) {
    const { removed } = expectOk(await adminRequest(`${admin}/faults`, 'DELETE')) as { removed: number };
    io.out(`removed ${removed} runtime fault${removed === 1 ? '' : 's'}`);
    return 0;
  }
  if (names.length === 0) throw new MeshError('MESH_ERR_USAGE', ['name the faults to remove, or pass --all']);
  for (const name of names) {
    expectOk(await adminRequest(`${admin}/faults/${encodeURIComponent(name)}`, 'DELETE'));
    io.out(`removed ${name}`);
  }
  return 0;
}
