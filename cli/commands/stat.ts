/**
 * `meshbox stat [svc|deploy|po] [NAME...] [--window 1m] [-o wide|json|yaml]`: success rate,
 * requests per second and latency percentiles per service (default), workload or instance over a
 * window, with the columns of `linkerd viz stat`:
 *
 *   NAME             MESHED   SUCCESS      RPS   LATENCY_P50   LATENCY_P95   LATENCY_P99   TCP_CONN
 *   callme-service      3/3   100.00%   4.2rps         2.1ms         4.3ms           9ms          1
 *
 * From the requests the destination sidecars served (admin API `/stat`); `-` when none did.
 */
import { MeshError } from '../../sandbox/errors.js';
import { closestMatch } from '../../sandbox/config/did-you-mean.js';
import { adminRequest, expectOk, resolveAdmin } from '../admin-client.js';
import { formatTable, outputFormat, printData } from '../output-format.js';
import type { Io } from '../output.js';
import { resolveKind } from '../resource-kinds.js';

export interface StatOptions {
  admin?: string;
  window?: string;
  output?: string;
  json?: boolean;
}

interface StatRow {
  name: string;
  meshed: string;
  requests: number;
  success: number | null;
  rps: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  latencyP99Ms: number | null;
  tcpConnections: number;
}

const GROUPS: Record<string, 'service' | 'workload' | 'instance'> = { services: 'service', workloads: 'workload', pods: 'instance' };

function ms(v: number | null): string {
  if (v === null) return '-';
  return v < 10 ? `${Number(v.toFixed(1))}ms` : `${Math.round(v)}ms`;
}

export async function runStat(kindWord: string | undefined, names: string[], o: StatOptions, io: Io): Promise<number> {
  const format = outputFormat(o, ['table', 'wide', 'json', 'yaml']);
  let kind = kindWord ?? 'services';
  // `meshbox stat svc/callme-service`, as linkerd takes `deploy/web`
  if (kind.includes('/')) {
    const [k, n] = kind.split('/', 2) as [string, string];
    kind = k;
    names = [n, ...names];
  }
  const info = resolveKind(kind);
  const group = GROUPS[info.plural];
  if (!group) throw new MeshError('MESH_ERR_USAGE', [`stat does not aggregate ${info.plural}`], { hint: 'use svc, deploy or po' });
  const admin = resolveAdmin(o.admin);
  const q = new URLSearchParams({ group, window: o.window ?? '60s' });
  const body = expectOk(await adminRequest(`${admin}/stat?${q.toString()}`)) as { windowMs: number; rows: StatRow[] };
  let rows = body.rows;
  if (names.length > 0) {
    for (const n of names) {
      if (rows.some((r) => r.name === n)) continue;
      const near = closestMatch(n, rows.map((r) => r.name));
      throw new MeshError('MESH_ERR_NOT_FOUND', [info.plural, n], { hint: near ? `did you mean \`${near}\`?` : `\`meshbox get ${info.plural}\` lists them` });
    }
    rows = rows.filter((r) => names.includes(r.name));
  }
  if (format === 'json' || format === 'yaml') {
    printData(io, { windowMs: body.windowMs, group, rows }, format);
    return 0;
  }
  const headers = ['NAME', 'MESHED', 'SUCCESS', 'RPS', 'LATENCY_P50', 'LATENCY_P95', 'LATENCY_P99', 'TCP_CONN', ...(format === 'wide' ? ['REQUESTS'] : [])];
  const table = rows.map((r) => [
    r.name,
    r.meshed,
    r.success === null ? '-' : `${(r.success * 100).toFixed(2)}%`,
    r.requests === 0 ? '-' : `${r.rps.toFixed(1)}rps`,
    ms(r.latencyP50Ms),
    ms(r.latencyP95Ms),
    ms(r.latencyP99Ms),
    r.requests === 0 ? '-' : String(r.tcpConnections),
    ...(format === 'wide' ? [String(r.requests)] : []),
  ]);
  // linkerd viz stat right-aligns every column but NAME
  for (const l of formatTable(headers, table, 1)) io.out(l);
  return 0;
}
