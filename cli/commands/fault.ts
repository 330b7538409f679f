/**
 * `meshbox fault add|ls|rm`: runtime faults on a running sandbox (layered on the rule files,
 * optional TTL). Flags build a FaultSpec (sandbox/faults/fault-spec.ts); the sandbox validates it.
 */
import { parseDuration } from '../../sandbox/config/duration.js';
import { describeFault } from '../../sandbox/faults/describe-fault.js';
import type { FaultRecord, FaultSpec, ToxicSpec, ToxicType } from '../../sandbox/faults/fault-spec.js';
import { MeshError } from '../../sandbox/errors.js';
import { closestMatch } from '../../sandbox/config/did-you-mean.js';
import { adminRequest, expectOk, resolveAdmin } from '../admin-client.js';
import type { Io } from '../output.js';

interface ToxicAttribute {
  /** Toxiproxy's default */
  default: number;
  /** what the default means, shown when it is used */
  meaning: string;
  example: string;
}

/**
 * The attributes of each toxic type with Toxiproxy's defaults. `inert`: with only defaults the
 * toxic changes nothing (a latency of 0 ms), so `fault add` refuses it instead of reporting a
 * fault that does nothing; the other types act with their defaults, which `fault add` prints.
 */
export const TOXIC_ATTRIBUTES: Record<ToxicType, { attributes: Record<string, ToxicAttribute>; inert: boolean }> = {
  latency: {
    inert: true,
    attributes: {
      latency: { default: 0, meaning: 'no added delay', example: 'latency=200 (ms)' },
      jitter: { default: 0, meaning: 'no jitter', example: 'jitter=50 (ms, ± around latency)' },
    },
  },
  bandwidth: { inert: true, attributes: { rate: { default: 0, meaning: 'no limit', example: 'rate=10 (KB/s)' } } },
  slow_close: { inert: true, attributes: { delay: { default: 0, meaning: 'closes at once', example: 'delay=2000 (ms)' } } },
  timeout: { inert: false, attributes: { timeout: { default: 0, meaning: 'hold the connection forever, dropping its data', example: 'timeout=5000 (ms, then close)' } } },
  reset_peer: { inert: false, attributes: { timeout: { default: 0, meaning: 'reset (RST) at once', example: 'timeout=1000 (ms, then RST)' } } },
  slicer: {
    inert: false,
    attributes: {
      average_size: { default: 1, meaning: '1-byte slices', example: 'average_size=64 (bytes)' },
      size_variation: { default: 0, meaning: 'slices of one size', example: 'size_variation=16 (bytes)' },
      delay: { default: 0, meaning: 'no pause between slices', example: 'delay=1000 (µs)' },
    },
  },
  limit_data: { inert: false, attributes: { bytes: { default: 0, meaning: 'close as soon as data flows', example: 'bytes=1024' } } },
};

/** Toxiproxy's defaults a toxic uses for the attributes it was not given, e.g. `timeout=0 (hold ...)`. */
export function toxicDefaults(toxic: ToxicSpec): string[] {
  const known = TOXIC_ATTRIBUTES[toxic.type]?.attributes ?? {};
  return Object.entries(known)
    .filter(([name]) => toxic.attributes?.[name] === undefined)
    .map(([name, a]) => `${name}=${a.default} (${a.meaning})`);
}

function checkToxicAttributes(type: ToxicType, attributes: Record<string, number>): void {
  const spec = TOXIC_ATTRIBUTES[type];
  const names = Object.keys(spec.attributes);
  for (const name of Object.keys(attributes)) {
    if (names.includes(name)) continue;
    const guess = closestMatch(name, names);
    throw new MeshError('MESH_ERR_USAGE', [`--attr ${name}: a ${type} toxic has no attribute ${name}`], {
      hint: guess ? `did you mean --attr ${guess}=...? (${type} takes ${names.join(', ')})` : `${type} takes ${names.join(', ')}`,
    });
  }
  if (spec.inert && Object.entries(spec.attributes).every(([name, a]) => (attributes[name] ?? a.default) === a.default)) {
    throw new MeshError('MESH_ERR_USAGE', [`--toxic ${type} without --attr does nothing: Toxiproxy's defaults are ${Object.entries(spec.attributes).map(([n, a]) => `${n}=${a.default} (${a.meaning})`).join(', ')}`], {
      hint: `give ${Object.values(spec.attributes).map((a) => `--attr ${a.example}`).join(' and/or ')}`,
    });
  }
}

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
    checkToxicAttributes(o.toxic, attributes);
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
  else {
    io.out(`added fault ${record.name}: ${describeFault(record.spec)}`);
    for (const t of record.spec.toxics ?? []) {
      const defaults = toxicDefaults(t);
      if (defaults.length > 0) io.out(`  ${t.type} uses Toxiproxy's defaults for ${defaults.join(', ')}`);
    }
  }
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
  const rows = faults.map((f) => [
    f.name,
    f.origin === 'file' ? `file ${f.source ?? ''}` : 'runtime',
    f.expiresAt ? `in ${Math.max(0, Math.round((f.expiresAt - Date.now()) / 1000))}s` : '-',
    describeFault(f.spec),
  ]);
  for (const line of table(['NAME', 'ORIGIN', 'EXPIRES', 'FAULT'], rows)) io.out(line);
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
    const reply = await adminRequest(`${admin}/faults/${encodeURIComponent(name)}`, 'DELETE');
    if (reply.status === 404) {
      throw new MeshError('MESH_ERR_USAGE', [`no runtime fault named ${name}`], {
        hint: '`meshbox fault ls` lists the active faults by name (a fault from a rule file goes when its file is edited)',
      });
    }
    expectOk(reply);
    io.out(`removed ${name}`);
  }
  return 0;
}

/** Rows under a header, each column as wide as its widest cell (the last one free). */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}
