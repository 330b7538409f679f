/**
 * A running sandbox a scenario attaches to (`mesh.attach: http://127.0.0.1:15000`), driven
 * through its admin API: faults (`/faults`), workload chaos (`/workloads`), instances and sidecar
 * ports (`/status`), the gateway host (`/config_dump`).
 *
 * Its request events live in another process, so what the scenario observes is rebuilt from the
 * sandbox's Istio metrics: `/metrics` is read every 250 ms and at the edges of every load and
 * probe (`mark()`), and each increase of `istio_requests_total` for a label set becomes that many
 * request events, timed just after the previous reading (so a window between two marks holds
 * exactly what the readings between them counted), with durations spread over the histogram
 * bucket they fell in (what Prometheus' histogram_quantile does). Outlier ejections and returns come from the
 * `/clusters` host flags. What the metrics do not carry is not available when attached (the
 * loader refuses it before the run): the subset and the instance a request went to, its attempts,
 * its path and headers.
 */
import type { DestinationInfo, MeshEvent, PeerInfo, RequestEvent } from '../events.js';
import type { FaultRecord, FaultSpec } from '../faults/fault-spec.js';
import { MeshError } from '../errors.js';
import { explainTokenRefusal, findAdminToken } from '../admin/admin-token.js';
import type { WorkloadAction } from '../admin/chaos-routes.js';
import { gatewayHost } from './gateway-host.js';
import type { InstanceView, ScenarioTarget } from './scenario-target.js';
import { SETTLE_MS } from './traffic-recorder.js';

export const POLL_MS = 250;
const GATEWAY = 'istio-ingressgateway';

type Labels = Record<string, string>;

interface MetricsSample {
  time: number;
  /** label key -> count */
  requests: Map<string, { labels: Labels; count: number }>;
  /** label key -> le -> cumulative count */
  buckets: Map<string, Map<number, number>>;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseLabels(text: string | undefined): Labels {
  const out: Labels = {};
  if (!text) return out;
  for (const m of text.matchAll(LABEL)) out[m[1]!] = m[2]!.replace(/\\(["\\])/g, '$1').replace(/\\n/g, '\n');
  return out;
}

function keyOf(labels: Labels): string {
  return Object.keys(labels)
    .filter((k) => k !== 'le')
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}

/** Reads the Istio request counters and duration histograms of a Prometheus text exposition. */
export function parseIstioMetrics(text: string, time: number): MetricsSample {
  const sample: MetricsSample = { time, requests: new Map(), buckets: new Map() };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const [, name, rawLabels, rawValue] = m;
    if (name !== 'istio_requests_total' && name !== 'istio_request_duration_milliseconds_bucket') continue;
    const labels = parseLabels(rawLabels);
    const value = Number(rawValue);
    const key = keyOf(labels);
    if (name === 'istio_requests_total') {
      sample.requests.set(key, { labels, count: value });
    } else {
      const le = labels['le'] === '+Inf' ? Infinity : Number(labels['le']);
      let b = sample.buckets.get(key);
      if (!b) sample.buckets.set(key, (b = new Map()));
      b.set(le, value);
    }
  }
  return sample;
}

function peer(labels: Labels, side: 'source' | 'destination'): PeerInfo {
  return {
    workload: labels[`${side}_workload`] ?? 'unknown',
    namespace: labels[`${side}_workload_namespace`] ?? 'unknown',
    app: labels[`${side}_app`] ?? 'unknown',
    version: labels[`${side}_version`] ?? 'unknown',
    principal: labels[`${side}_principal`] ?? 'unknown',
    canonicalService: labels[`${side}_canonical_service`] ?? 'unknown',
    canonicalRevision: labels[`${side}_canonical_revision`] ?? 'unknown',
  };
}

/** Durations for `n` requests from the bucket increases (uniform inside each bucket). */
function durations(now: Map<number, number> | undefined, before: Map<number, number> | undefined, n: number): number[] {
  const out: number[] = [];
  if (now) {
    const bounds = [...now.keys()].sort((a, b) => a - b);
    let prevCum = 0;
    let lower = 0;
    for (const le of bounds) {
      const cum = (now.get(le) ?? 0) - (before?.get(le) ?? 0);
      const k = Math.max(0, cum - prevCum);
      const upper = Number.isFinite(le) ? le : lower * 2 || 1;
      for (let j = 0; j < k; j++) out.push(lower + ((upper - lower) * (j + 0.5)) / k);
      prevCum = Math.max(prevCum, cum);
      lower = upper;
    }
  }
  while (out.length < n) out.push(0);
  return out.slice(0, n);
}

/** the destination reporter's connection_security_policy (the source side reports `unknown`) */
function security(labels: Labels): Pick<RequestEvent, 'connectionSecurity'> {
  const p = labels['connection_security_policy'];
  return p === 'mutual_tls' || p === 'none' ? { connectionSecurity: p } : {};
}

/** The request events that explain the difference between two metric samples. */
export function eventsBetween(before: MetricsSample | undefined, now: MetricsSample, at = (before?.time ?? now.time) + 1): RequestEvent[] {
  const out: RequestEvent[] = [];
  for (const [key, { labels, count }] of now.requests) {
    const n = count - (before?.requests.get(key)?.count ?? 0);
    if (n <= 0) continue;
    const reporter = labels['reporter'] === 'destination' ? 'destination' : 'source';
    const source = peer(labels, 'source');
    const destination: DestinationInfo = {
      ...peer(labels, 'destination'),
      service: labels['destination_service'] ?? 'unknown',
      serviceName: labels['destination_service_name'] ?? 'unknown',
      serviceNamespace: labels['destination_service_namespace'] ?? 'unknown',
    };
    const proxy = reporter === 'source' ? source.workload : destination.workload;
    const ds = durations(now.buckets.get(key), before?.buckets.get(key), n);
    for (let i = 0; i < n; i++) {
      out.push({
        type: 'mesh:request:end',
        reporter,
        proxy,
        listener: proxy === GATEWAY ? 'gateway' : reporter === 'source' ? 'outbound' : 'inbound',
        startTime: at,
        durationMs: ds[i]!,
        method: '',
        path: '',
        authority: '',
        protocol: labels['request_protocol'] ?? 'http',
        requestId: '',
        userAgent: '',
        forwardedFor: '',
        status: Number(labels['response_code'] ?? 0),
        responseFlags: labels['response_flags'] ?? '-',
        responseCodeDetails: '',
        bytesReceived: 0,
        bytesSent: 0,
        downstreamLocalAddress: '',
        downstreamRemoteAddress: '',
        attempts: 1,
        source,
        destination,
        why: ['rebuilt from the istio_requests_total metric of an attached sandbox'],
        requestHeaders: {},
        snapshotVersion: 0,
        ...security(labels),
      });
    }
  }
  return out;
}

interface StatusBody {
  sandbox?: string;
  seed?: number;
  runtime?: string;
  ingress?: string;
  admin?: string;
  instances?: Array<{ id: string; service: string; version: string; state: string; healthy: boolean; sidecar?: { inbound?: number; services?: Record<string, number> } }>;
}

interface ClustersBody {
  clusters?: Array<{ proxy?: string; name: string; hosts?: Array<{ id?: string; ejected?: boolean; times_ejected?: number }> }>;
}

export class AttachedTarget implements ScenarioTarget {
  readonly kind = 'attached';
  readonly rules = undefined;
  private readonly listeners = new Set<(e: MeshEvent) => void>();
  private last: MetricsSample | undefined;
  private hosts = new Map<string, { ejected: boolean; times: number }>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  /** when the last reading completed (strictly increasing) */
  private lastRead = 0;
  private closed = false;
  private host: string | undefined;

  private constructor(
    readonly adminUrl: string,
    private status: StatusBody,
    hostOverride: string | undefined,
  ) {
    this.host = hostOverride;
  }

  /** connects, reads the sandbox and takes the first metrics sample (nothing before it counts) */
  static async connect(adminUrl: string, opts: { host?: string } = {}): Promise<AttachedTarget> {
    const url = adminUrl.replace(/\/$/, '');
    const status = (await request(url, 'GET', '/status')) as StatusBody;
    const t = new AttachedTarget(url, status, opts.host);
    if (t.host === undefined) {
      const dump = (await request(url, 'GET', '/config_dump')) as { rules?: Array<{ kind: string; spec: unknown }> };
      t.host = gatewayHost(dump.rules ?? []);
    }
    await t.poll();
    t.schedule();
    return t;
  }

  get id(): string {
    return this.status.sandbox ?? this.adminUrl;
  }
  get ingressUrl(): string {
    return this.status.ingress ?? '';
  }
  get seed(): number | undefined {
    return this.status.seed;
  }
  get runtime(): string | undefined {
    return this.status.runtime;
  }

  onEvent(listener: (e: MeshEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  defaultHost(): string | undefined {
    return this.host;
  }

  async addFault(spec: FaultSpec): Promise<FaultRecord> {
    return (await request(this.adminUrl, 'POST', '/faults', spec)) as FaultRecord;
  }

  async removeFault(name: string): Promise<boolean> {
    try {
      await request(this.adminUrl, 'DELETE', `/faults/${encodeURIComponent(name)}`);
      return true;
    } catch (e) {
      if (e instanceof MeshError && /no runtime fault/.test(e.message)) return false;
      throw e;
    }
  }

  async instances(): Promise<InstanceView[]> {
    const [workloads, status] = await Promise.all([
      request(this.adminUrl, 'GET', '/workloads') as Promise<{ instances: Array<{ id: string; service: string; version: string; state: string; healthy: boolean; drained: boolean }> }>,
      request(this.adminUrl, 'GET', '/status') as Promise<StatusBody>,
    ]);
    this.status = status;
    const sidecars = new Map((status.instances ?? []).map((i) => [i.id, i.sidecar?.services ?? {}]));
    const inbound = new Map((status.instances ?? []).map((i) => [i.id, i.sidecar?.inbound]));
    return workloads.instances.map((i) => ({
      id: i.id,
      service: i.service,
      version: i.version,
      workload: `${i.service}-${i.version}`,
      state: i.state,
      healthy: i.healthy,
      drained: i.drained,
      serviceListeners: { ...sidecars.get(i.id) },
      ...(inbound.get(i.id) ? { inboundPort: inbound.get(i.id) } : {}),
    }));
  }

  async workloadAction(id: string, action: WorkloadAction, opts: { signal?: string } = {}): Promise<void> {
    await request(this.adminUrl, 'POST', `/workloads/${encodeURIComponent(id)}/${action}`, opts.signal ? { signal: opts.signal } : {});
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      void this.poll().finally(() => this.schedule());
    }, POLL_MS);
    this.timer.unref();
  }

  /** one read of the metrics and clusters; concurrent calls share it */
  private poll(): Promise<void> {
    this.polling ??= this.readOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  /** a reading that starts after this call */
  private async fresh(): Promise<void> {
    await this.polling?.catch(() => undefined);
    await this.poll();
  }

  private async readOnce(): Promise<void> {
    const [metrics, clusters] = await Promise.all([request(this.adminUrl, 'GET', '/metrics'), request(this.adminUrl, 'GET', '/clusters?format=json')]);
    const completed = Math.max(Date.now(), this.lastRead + 1);
    // what this reading counts happened after the previous one completed
    const time = this.lastRead + 0.5;
    const sample = parseIstioMetrics(String(metrics), completed);
    const first = this.last === undefined;
    const events: MeshEvent[] = first ? [] : eventsBetween(this.last, sample, time);
    this.last = sample;
    this.lastRead = completed;
    for (const c of (clusters as ClustersBody).clusters ?? []) {
      for (const h of c.hosts ?? []) {
        if (!h.id) continue;
        const key = `${c.proxy ?? ''}|${c.name}|${h.id}`;
        const before = this.hosts.get(key);
        const now = { ejected: h.ejected === true, times: h.times_ejected ?? 0 };
        this.hosts.set(key, now);
        if (first || !before) continue;
        if (now.times > before.times) events.push({ type: 'mesh:outlier:ejected', time, proxy: c.proxy, cluster: c.name, endpoint: h.id, ejections: now.times });
        if (before.ejected && !now.ejected) events.push({ type: 'mesh:outlier:returned', time, proxy: c.proxy, cluster: c.name, endpoint: h.id });
      }
    }
    for (const e of events) for (const l of this.listeners) l(e);
  }

  async settle(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    await this.fresh();
  }

  /** between the reading it takes and the next one: before what the next one counts, after what this one counted */
  async mark(): Promise<number> {
    await this.fresh();
    return this.lastRead + 0.25;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling?.catch(() => undefined);
  }
}

async function request(base: string, method: string, path: string, body?: unknown): Promise<unknown> {
  let res: Response;
  // the sandbox's admin token (its token file, or $MESHBOX_ADMIN_TOKEN): faults and workload actions
  // need it; the readings every 250 ms do not, and do not read the state folder
  const token = method === 'GET' ? undefined : findAdminToken(base)?.token;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    throw new MeshError('MESH_ERR_ADMIN_UNREACHABLE', [base, cause?.code ?? (e as Error).message]);
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // text routes (/metrics)
  }
  if (res.status === 401) parsed = explainTokenRefusal(base, parsed, token !== undefined);
  if (!res.ok) {
    const b = parsed as { error?: string; hint?: string } | string;
    const message = typeof b === 'string' ? b.trim() : (b.error ?? `HTTP ${res.status}`);
    throw new MeshError('MESH_ERR_USAGE', [`${method} ${path}: ${message}`], typeof b === 'object' && b.hint ? { hint: b.hint } : {});
  }
  return parsed;
}
