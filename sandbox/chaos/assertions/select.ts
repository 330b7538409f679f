/**
 * Which request events an assertion counts. Every request is reported by each proxy it passes
 * (Istio's reporter=source on the calling side, reporter=destination on the called side), so an
 * assertion picks one viewpoint:
 * - default: the ingress gateway's own events, the end-to-end view a client has;
 * - `service: X`: the events of the sidecars that called X (reporter=source, destination X):
 *   where routing, retries, timeouts and circuit breaking for X happen;
 * - `proxy`, `reporter`, `from`, `path`, `headers` narrow or move it.
 */
import type { RequestEvent } from '../../events.js';

export const GATEWAY_PROXY = 'istio-ingressgateway';

export interface Selection {
  /** destination service name */
  service?: string;
  reporter?: 'source' | 'destination';
  /** `ingress`, an instance id (`caller-service-v1-1`) or a workload (`caller-service-v1`) */
  proxy?: string;
  /** source workload, e.g. `caller-service-v1` */
  from?: string;
  /** path prefix */
  path?: string;
  /** exact request header values (as the reporting proxy received them) */
  headers?: Record<string, string>;
}

function proxyMatches(proxy: string, wanted: string): boolean {
  if (wanted === 'ingress' || wanted === 'ingressgateway') return proxy === GATEWAY_PROXY;
  return proxy === wanted || (proxy.startsWith(`${wanted}-`) && /^\d+$/.test(proxy.slice(wanted.length + 1)));
}

export function selectRequests(events: readonly RequestEvent[], sel: Selection): RequestEvent[] {
  const reporter = sel.reporter ?? 'source';
  const headers = Object.entries(sel.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);
  return events.filter((e) => {
    if (e.reporter !== reporter) return false;
    if (sel.proxy !== undefined) {
      if (!proxyMatches(e.proxy, sel.proxy)) return false;
    } else if (sel.service === undefined) {
      // the gateway's own events, or (reporter destination) those of the sidecars it called
      if (reporter === 'source' ? e.proxy !== GATEWAY_PROXY : e.source.workload !== GATEWAY_PROXY) return false;
    }
    if (sel.service !== undefined && e.destination.serviceName !== sel.service) return false;
    if (sel.from !== undefined && e.source.workload !== sel.from) return false;
    if (sel.path !== undefined && !e.path.startsWith(sel.path)) return false;
    for (const [k, v] of headers) if (e.requestHeaders[k] !== v) return false;
    return true;
  });
}

/** `at the ingress gateway`, `by the callers of callme-service`, ... */
export function describeSelection(sel: Selection): string {
  const reporter = sel.reporter ?? 'source';
  let where: string;
  if (sel.proxy !== undefined) where = `at ${sel.proxy === 'ingress' ? 'the ingress gateway' : sel.proxy}${sel.service ? ` (to ${sel.service})` : ''}`;
  else if (sel.service !== undefined) where = reporter === 'source' ? `by the callers of ${sel.service}` : `by the sidecars of ${sel.service}`;
  else where = reporter === 'source' ? 'at the ingress gateway' : 'by the sidecars behind the ingress gateway';
  const extra = [sel.from && `from ${sel.from}`, sel.path && `path ${sel.path}*`, ...Object.entries(sel.headers ?? {}).map(([k, v]) => `${k}: ${v}`)].filter(Boolean);
  return extra.length ? `${where} (${extra.join(', ')})` : where;
}
