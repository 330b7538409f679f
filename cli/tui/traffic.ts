/**
 * Helpers of the traffic tap: what a hop's row says, which flags it carries (its own, plus the
 * fault flags its upstream sidecar set), and the `/` filter.
 */
import type { RequestEvent, TcpConnectionEvent } from '../../sandbox/events.js';
import { matchedRoute } from './format.js';

/**
 * A TCP connection as a row of the tap: method `TCP`, the bytes each way where a path would be,
 * no status (`-`), its flags (UF, UO, NR, ...), duration and route; its `why` in the detail.
 */
export function tcpRow(e: TcpConnectionEvent): RequestEvent {
  return {
    type: 'mesh:request:end',
    reporter: e.reporter,
    proxy: e.proxy,
    listener: e.listener,
    startTime: e.startTime,
    durationMs: e.durationMs,
    method: 'TCP',
    path: `${e.bytesReceived}B out, ${e.bytesSent}B back`,
    authority: e.requestedServerName ?? e.destination.serviceName,
    protocol: 'tcp',
    requestId: e.connectionId,
    userAgent: '',
    forwardedFor: '',
    status: 0,
    responseFlags: e.responseFlags,
    responseCodeDetails: e.terminationDetails ?? '-',
    bytesReceived: e.bytesReceived,
    bytesSent: e.bytesSent,
    ...(e.upstreamHost ? { upstreamHost: e.upstreamHost } : {}),
    ...(e.upstreamCluster ? { upstreamCluster: e.upstreamCluster } : {}),
    ...(e.upstreamTransportFailureReason ? { upstreamTransportFailureReason: e.upstreamTransportFailureReason } : {}),
    downstreamLocalAddress: e.downstreamLocalAddress,
    downstreamRemoteAddress: e.downstreamRemoteAddress,
    ...(e.routeName ? { routeName: e.routeName } : {}),
    attempts: e.upstreamHost ? 1 : 0,
    source: e.source,
    destination: e.destination,
    ...(e.endpoint ? { endpoint: e.endpoint } : {}),
    why: e.why,
    requestHeaders: {},
    snapshotVersion: e.snapshotVersion,
    ...(e.connectionSecurity ? { connectionSecurity: e.connectionSecurity } : {}),
  };
}

/** a tap row of a TCP connection (./traffic.ts tcpRow) */
export function isTcpRow(e: RequestEvent): boolean {
  return e.protocol === 'tcp';
}

/** the sidecars' events of a hop's upstream attempts (a ViewStore has this) */
export type UpstreamLookup = (e: RequestEvent) => RequestEvent[];

/**
 * The destination-side events of hop `e` among the events of its request: the same caller and
 * service, within the hop's time (a request id can recur when a hop upstream was retried).
 */
export function upstreamOf(e: RequestEvent, chain: readonly RequestEvent[]): RequestEvent[] {
  if (e.reporter !== 'source') return [];
  const from = e.startTime - 1;
  const to = e.startTime + e.durationMs + 1;
  return chain.filter(
    (x) =>
      x.reporter === 'destination' &&
      x.source.workload === e.source.workload &&
      x.destination.serviceName === e.destination.serviceName &&
      x.startTime >= from &&
      x.startTime <= to,
  );
}

/** who sent the hop: the calling proxy (for a mirrored copy, the sidecar that sent the copy) */
export function sourceOf(e: RequestEvent): string {
  return e.shadowOf ?? e.proxy;
}

/** where the hop went: the answering instance, else the service (or authority when unrouted) */
export function destinationOf(e: RequestEvent): string {
  if (e.endpoint) return e.endpoint.replace(/\/app$/, '');
  if (e.destination.serviceName !== 'unknown') return e.destination.subset ? `${e.destination.serviceName}/${e.destination.subset}` : e.destination.serviceName;
  return e.authority;
}

/**
 * The hop's response flags, plus `FI`/`DI` set by the upstream's inbound sidecar (meshbox faults
 * act there, so the calling side only sees a 503 or a slow answer).
 */
export function hopFlags(e: RequestEvent, upstream?: UpstreamLookup): string[] {
  const flags = new Set(e.responseFlags === '-' ? [] : e.responseFlags.split(','));
  if (upstream) {
    for (const u of upstream(e)) {
      if (u.responseFlags === '-') continue;
      for (const f of u.responseFlags.split(',')) if (f === 'FI' || f === 'DI') flags.add(f);
    }
  }
  return [...flags];
}

export function searchText(e: RequestEvent, flags: readonly string[]): string {
  const cls = isTcpRow(e) ? 'tcp' : e.status > 0 ? `${Math.floor(e.status / 100)}xx` : 'reset';
  return `${sourceOf(e)} -> ${destinationOf(e)}${e.shadowOf ? ' mirror' : ''} ${e.destination.version} ${e.method} ${e.authority}${e.path} ${e.status} ${cls} ${flags.join(' ')} ${matchedRoute(e.why, e.routeName)}`.toLowerCase();
}

/** a `/` filter: case-insensitive text; `!text` keeps the rows without it */
export function filterMatcher(filter: string): ((text: string) => boolean) | undefined {
  const f = filter.trim().toLowerCase();
  if (!f || f === '!') return undefined;
  if (f.startsWith('!')) {
    const needle = f.slice(1);
    return (text) => !text.includes(needle);
  }
  return (text) => text.includes(f);
}

export function filterTraffic(events: readonly RequestEvent[], filter: string, upstream?: UpstreamLookup): readonly RequestEvent[] {
  const match = filterMatcher(filter);
  if (!match) return events;
  return events.filter((e) => match(searchText(e, hopFlags(e, upstream))));
}
