/**
 * Helpers of the traffic tap: what a hop's row says, which flags it carries (its own, plus the
 * fault flags its upstream sidecar set), and the `/` filter.
 */
import type { RequestEvent } from '../../sandbox/events.js';
import { matchedRoute } from './format.js';

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
  const cls = e.status > 0 ? `${Math.floor(e.status / 100)}xx` : 'reset';
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
