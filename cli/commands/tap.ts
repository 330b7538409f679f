/**
 * `meshbox tap [--to R] [--from R] [--path PREFIX] [--method M] [--authority A] [-o wide|json]`:
 * every request the sidecars see, live, as `linkerd viz tap` prints them. Each finished request
 * gives three lines (meshbox reports a request when it ends):
 *
 *   req id=0:1 proxy=in src=caller-service-v1 dst=callme-service-v2 :method=GET :authority=callme-service:8080 :path=/callme/ping
 *   rsp id=0:1 proxy=in src=caller-service-v1 dst=callme-service-v2 :status=200 latency=1234µs
 *   end id=0:1 proxy=in src=caller-service-v1 dst=callme-service-v2 duration=56µs response-length=31B
 *
 * `proxy=in` is a destination sidecar (reporter=destination), `proxy=out` a source sidecar or
 * the ingress gateway. A request without a response (reset) ends with `reset-error=<flags>`.
 * `-o wide` adds the resources (`src_res=deploy/... dst_res=deploy/...`), the proxy, the
 * response flags, the route and the x-request-id; `-o json` prints each event as one JSON line.
 */
import type { RequestEvent } from '../../sandbox/events.js';
import { MeshError } from '../../sandbox/errors.js';
import { adminStream, resolveAdmin } from '../admin-client.js';
import { outputFormat } from '../output-format.js';
import type { Io } from '../output.js';

export interface TapOptions {
  admin?: string;
  to?: string;
  from?: string;
  path?: string;
  method?: string;
  authority?: string;
  output?: string;
  json?: boolean;
  /** stop after this many requests */
  max?: number;
  /** stop after this long (ms) */
  durationMs?: number;
}

export function tapQuery(o: { to?: string; from?: string; path?: string; method?: string; authority?: string }): string {
  const q = new URLSearchParams();
  for (const k of ['to', 'from', 'path', 'method', 'authority'] as const) if (o[k]) q.set(k, o[k]!);
  const s = q.toString();
  return s ? `?${s}` : '';
}

const us = (ms: number): string => `${Math.max(0, Math.round(ms * 1000))}µs`;

/** the three linkerd-style lines of one request */
export function tapLines(e: RequestEvent, id: string, wide: boolean): string[] {
  const proxy = e.reporter === 'destination' ? 'in' : 'out';
  const dstName = e.destination.workload && e.destination.workload !== 'unknown' ? e.destination.workload : e.destination.serviceName || e.authority;
  let head = `id=${id} proxy=${proxy} src=${e.source.workload} dst=${dstName}`;
  if (wide) {
    head += ` src_res=deploy/${e.source.workload} dst_res=${e.destination.serviceName ? `svc/${e.destination.serviceName}` : '-'}`;
    head += ` src_ns=${e.source.namespace} dst_ns=${e.destination.serviceNamespace || '-'} proxy_id=${e.proxy}`;
  }
  const req = `req ${head} :method=${e.method} :authority=${e.authority} :path=${e.path}`;
  const latency = e.upstreamServiceTimeMs ?? e.durationMs;
  const tail = wide ? ` flags=${e.responseFlags || '-'} route=${e.routeName ?? '-'} endpoint=${e.endpoint ?? '-'} request-id=${e.requestId}` : '';
  if (e.status === 0) return [req, `end ${head} reset-error=${e.responseFlags || e.responseCodeDetails || 'reset'} duration=${us(e.durationMs)}${tail}`];
  return [
    req,
    `rsp ${head} :status=${e.status} latency=${us(latency)}`,
    `end ${head} duration=${us(Math.max(0, e.durationMs - latency))} response-length=${e.bytesSent}B${tail}`,
  ];
}

/** runs until interrupted (or --max / --duration); resolves with the exit code */
export async function runTap(o: TapOptions, io: Io, signal?: AbortSignal): Promise<number> {
  const format = outputFormat(o, ['table', 'wide', 'json']);
  const admin = resolveAdmin(o.admin);
  let n = 0;
  let dropped: string | undefined;
  // lines may arrive before adminStream resolves (in the chunk with the headers): remember --max
  let reachedMax = false;
  let stopSelf: () => void = () => undefined;
  const stream = await adminStream(`${admin}/tap${tapQuery(o)}`, 'GET', undefined, (line) => {
    if (line['type'] === 'tap:dropped') {
      dropped = String(line['message']);
      return;
    }
    if (line['type'] !== 'mesh:request:end') return;
    if (o.max !== undefined && n >= o.max) return;
    n++;
    const e = line as unknown as RequestEvent;
    if (format === 'json') io.out(JSON.stringify(e));
    else for (const l of tapLines(e, `0:${n}`, format === 'wide')) io.out(l);
    if (o.max !== undefined && n >= o.max) {
      reachedMax = true;
      stopSelf();
    }
  });
  let stoppedByUs = false;
  const stop = (): void => {
    stoppedByUs = true;
    stream.close();
  };
  stopSelf = stop;
  if (reachedMax) stop();
  signal?.addEventListener('abort', stop);
  const timer = o.durationMs ? setTimeout(stop, o.durationMs) : undefined;
  await stream.done;
  if (timer) clearTimeout(timer);
  if (dropped) throw new MeshError('MESH_ERR_USAGE', [dropped], { hint: 'filter with --to, --from, --path or --method, or read the output faster' });
  if (!stoppedByUs) {
    io.err('tap: the sandbox closed the stream (it stopped)');
    return 1;
  }
  return 0;
}
