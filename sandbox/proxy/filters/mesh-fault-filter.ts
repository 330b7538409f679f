/**
 * meshbox's HTTP faults at the destination's inbound sidecar (see sandbox/faults/fault-spec.ts).
 * Placed there, a fault looks to the caller exactly like the service misbehaving: its sidecar's
 * retries, timeouts and outlier detection react as they would in production.
 *
 * Each fault's delay, abort, reset and slow body are sampled independently per request, from
 * the seeded generator.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CompiledFault } from '../../control/snapshot.js';
import type { Rng } from '../../rng.js';
import type { LocalReply } from '../local-reply.js';

export interface ResponseFault {
  /** cut the response after its headers and part of the body, with a TCP reset */
  reset?: boolean;
  /** trickle the body at this many bytes per second */
  slowBodyBps?: number;
}

export interface InboundFaultDecision {
  delayMs: number;
  abort?: LocalReply;
  resetRequest: boolean;
  response: ResponseFault;
  why: string[];
  /** names of the faults that fired */
  fired: string[];
}

function applies(f: CompiledFault, method: string, path: string, headers: IncomingHttpHeaders, source: string): boolean {
  if (f.source && f.source !== source) return false;
  const m = f.match;
  if (!m) return true;
  if (m.method && m.method.toUpperCase() !== method.toUpperCase()) return false;
  if (m.pathPrefix && !path.startsWith(m.pathPrefix)) return false;
  for (const [k, v] of Object.entries(m.headers ?? {})) if (headers[k.toLowerCase()] !== v) return false;
  return true;
}

const hit = (rng: Rng, percent: number | undefined): boolean => rng.percent(percent ?? 100);

export function decideInboundFaults(
  faults: readonly CompiledFault[] | undefined,
  req: { method: string; path: string; headers: IncomingHttpHeaders },
  source: string,
  rng: Rng,
): InboundFaultDecision | undefined {
  if (!faults || faults.length === 0) return undefined;
  const d: InboundFaultDecision = { delayMs: 0, resetRequest: false, response: {}, why: [], fired: [] };
  for (const f of faults) {
    const h = f.http;
    if (!h || !applies(f, req.method, req.path, req.headers, source)) continue;
    const fire = (what: string): void => {
      d.why.push(`fault ${f.name}: ${what}`);
      if (!d.fired.includes(f.name)) d.fired.push(f.name);
    };
    if (h.delay && hit(rng, h.delay.percent)) {
      d.delayMs += h.delay.fixedDelayMs;
      fire(`delay ${h.delay.fixedDelayMs}ms`);
    }
    if (h.abort && !d.abort && hit(rng, h.abort.percent)) {
      d.abort = {
        status: h.abort.httpStatus,
        body: h.abort.body ?? 'fault filter abort',
        flag: 'FI',
        details: 'fault_filter_abort',
        headers: h.abort.headers,
      };
      fire(`abort ${h.abort.httpStatus}`);
    }
    if (h.reset && hit(rng, h.reset.percent)) {
      if (h.reset.phase === 'request') d.resetRequest = true;
      else d.response.reset = true;
      fire(`reset during the ${h.reset.phase}`);
    }
    if (h.slowBody && hit(rng, h.slowBody.percent)) {
      d.response.slowBodyBps = h.slowBody.bytesPerSecond;
      fire(`slow body ${h.slowBody.bytesPerSecond}B/s`);
    }
  }
  return d.fired.length > 0 ? d : undefined;
}
