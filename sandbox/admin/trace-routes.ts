/**
 * Admin routes for the built-in trace store (sandbox/telemetry/tracing), in the shape of Jaeger
 * query's HTTP API, so a script written for `/api/traces` reads them as they are:
 *   GET /traces?service=&limit=20&errors=1     recent traces, newest first: {data: [trace...], total, limit, offset, errors}
 *   GET /traces/<traceId>                       one trace {data: [trace]}; 404 when the store does not hold it
 *   GET /traces/by-request/<x-request-id>       the trace a request belongs to (the TUI's way from Traffic)
 *   GET /traces/summary?limit=                  one line per trace: root, services, duration, errors, retries
 *   GET /traces/stats                           sampling, store and exporter counters (dropped spans, failures)
 * `/api/traces` and `/api/traces/<id>` are the same routes under Jaeger's own paths.
 */
import { MeshError } from '../errors.js';
import type { Tracing } from '../telemetry/tracing/tracer.js';
import { toJaegerTrace } from '../telemetry/tracing/encoders.js';
import { summarize, type StoredTrace } from '../telemetry/tracing/trace-store.js';
import type { AdminServer } from './admin-server.js';

export interface TraceRouteDeps {
  /** undefined: tracing is off (`--trace-sampling 0` still has it on) */
  tracing: () => Tracing | undefined;
}

function tracingOf(deps: TraceRouteDeps): Tracing {
  const t = deps.tracing();
  if (!t) throw new MeshError('MESH_ERR_NOT_FOUND', ['trace store', 'of this sandbox'], { hint: 'tracing is off in this sandbox: start it without --no-tracing' });
  return t;
}

function limitOf(q: URLSearchParams, fallback: number): number {
  const raw = q.get('limit');
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new MeshError('MESH_ERR_USAGE', [`limit=${raw} is not a whole number from 1 to 1000`]);
  return n;
}

const TRACE_ID = /^[0-9a-fA-F]{1,32}$/;

function one(t: StoredTrace | undefined, what: string): { status?: number; body: unknown } {
  if (!t) return { status: 404, body: { data: null, total: 0, limit: 0, offset: 0, errors: [{ code: 404, msg: `trace not found: ${what} (the store keeps the most recent traces only)` }] } };
  return { body: { data: [toJaegerTrace(t)], total: 1, limit: 0, offset: 0, errors: null } };
}

export function installTraceRoutes(admin: AdminServer, deps: TraceRouteDeps): void {
  const list = (req: { query: URLSearchParams }): { body: unknown } => {
    const t = tracingOf(deps);
    const limit = limitOf(req.query, 20);
    const traces = t.store.recent(limit, { service: req.query.get('service') ?? undefined, errorsOnly: req.query.get('errors') === '1' || req.query.get('errors') === 'true' });
    return { body: { data: traces.map(toJaegerTrace), total: traces.length, limit, offset: 0, errors: null } };
  };
  const byId = (req: { params: string[] }): { status?: number; body: unknown } => {
    const id = req.params[0]!;
    if (!TRACE_ID.test(id)) {
      return { status: 400, body: { data: null, total: 0, limit: 0, offset: 0, errors: [{ code: 400, msg: `"${id}" is not a trace id (1 to 32 hex digits)` }] } };
    }
    return one(tracingOf(deps).store.get(id), id);
  };
  admin
    .route('GET', '/traces/stats', 'tracing counters: sampling, spans, dropped, exporters', () => ({ body: tracingOf(deps).stats() }))
    .route('GET', '/traces/summary', 'recent traces, one line each (?limit=)', (req) => ({ body: tracingOf(deps).store.recent(limitOf(req.query, 50)).map(summarize) }))
    .route('GET', /^\/traces\/by-request\/([^/]+)$/, 'the trace of one request, by x-request-id', (req) => one(tracingOf(deps).store.byRequestId(decodeURIComponent(req.params[0]!)), `request ${req.params[0]}`))
    .route('GET', /^\/(?:api\/)?traces\/([^/]+)$/, 'one trace, Jaeger /api/traces/<id> shape', byId)
    .route('GET', /^\/(?:api\/)?traces$/, 'recent traces, Jaeger /api/traces shape (?service=&limit=&errors=1)', list);
}
