/**
 * Admin routes for looking at a running mesh (linkerd viz / kubectl habits):
 *   GET    /tap?to=&from=&path=&method=&authority=   stream of request events, one JSON line each
 *                                                    (application/x-ndjson); a client that does not
 *                                                    keep up is dropped with a `tap:dropped` line
 *   GET    /stat?group=service|workload|instance&window=60s   SUCCESS, RPS, latency percentiles
 *   GET    /objects/<kind>                           services, workloads, pods, virtualservices, ...
 *   GET    /objects/<kind>/<name>/describe           the object and what applies to it, and why
 *   GET    /port-forwards                            the port-forward listeners
 *   POST   /port-forwards  {"service","port"}        opens 127.0.0.1:<port> routed to the service
 *                                                    by the mesh routes; the answer streams and the
 *                                                    listener is removed when the client goes away
 *
 * Request events reach the main thread in batches from the data plane worker; a tap client only
 * costs a JSON.stringify and a socket write per event, and its buffer is bounded, so a slow
 * client never slows traffic.
 */
import { closestMatch } from '../config/did-you-mean.js';
import type { MeshDefinition } from '../config/mesh-types.js';
import { GATEWAY_ID, PORT_FORWARD_ROUTE_CONFIG } from '../control/compiler.js';
import type { ControlPlane } from '../control/control-plane.js';
import type { Registry } from '../control/registry.js';
import { portsOf } from '../config/service-ports.js';
import type { ListenerConfig } from '../control/snapshot.js';
import { parseDuration } from '../config/duration.js';
import { MeshError } from '../errors.js';
import type { EventBus, RequestEvent } from '../events.js';
import type { FaultStore } from '../faults/fault-store.js';
import type { DataPlane } from '../proxy/data-plane.js';
import type { AdminServer } from './admin-server.js';
import { describeObject, isObjectKind, listObjects, liveLines, OBJECT_KINDS, type DescribeContext } from './describe.js';
import { MAX_WINDOW_MS, RequestWindow, type StatGroup } from './request-window.js';

/** bytes a tap client may have unread before it is dropped */
export const TAP_BUFFER_BYTES = 1024 * 1024;

export interface ObserveDeps {
  bus: EventBus;
  registry: Registry;
  faults: FaultStore;
  mesh: () => MeshDefinition;
  controlPlane: () => ControlPlane;
  dataPlane: () => DataPlane;
  /** bounded buffer of a tap client (tests) */
  tapBufferBytes?: number;
}

export interface TapFilter {
  to?: string;
  from?: string;
  path?: string;
  method?: string;
  authority?: string;
}

/** `svc`, `svc/NAME`, `deploy/NAME`, `po/NAME` or a bare name: service, workload or instance */
function matchesResource(spec: string, peer: { service: string; workload: string; instance: string }): boolean {
  const [kind, name] = spec.includes('/') ? (spec.split('/', 2) as [string, string]) : ['', spec];
  if (['svc', 'service', 'services'].includes(kind)) return peer.service === name;
  if (['deploy', 'deployment', 'workload', 'workloads'].includes(kind)) return peer.workload === name;
  if (['po', 'pod', 'pods', 'instance'].includes(kind)) return peer.instance === name;
  return peer.service === name || peer.workload === name || peer.instance === name;
}

export function tapMatches(e: RequestEvent, f: TapFilter): boolean {
  if (f.method && e.method.toUpperCase() !== f.method.toUpperCase()) return false;
  if (f.path && !e.path.startsWith(f.path)) return false;
  if (f.authority && e.authority !== f.authority && e.authority.replace(/:\d+$/, '') !== f.authority) return false;
  if (f.to && !matchesResource(f.to, { service: e.destination.serviceName, workload: e.destination.workload, instance: e.endpoint ?? (e.reporter === 'destination' ? e.proxy : '') })) return false;
  if (f.from) {
    const source = { service: e.source.canonicalService, workload: e.source.workload, instance: e.reporter === 'source' ? e.proxy : '' };
    if (!matchesResource(f.from, source) && !(e.source.app === f.from)) return false;
  }
  return true;
}

function knownNames(mesh: MeshDefinition, registry: Registry): string[] {
  return [GATEWAY_ID, ...mesh.services.flatMap((s) => [s.name, ...s.workloads.map((w) => w.workload)]), ...registry.all().map((i) => i.id)];
}

export function installObserveRoutes(admin: AdminServer, deps: ObserveDeps): void {
  const window = new RequestWindow();
  deps.bus.on('mesh:request:end', (e) => window.observe(e));
  const bufferLimit = deps.tapBufferBytes ?? TAP_BUFFER_BYTES;
  const forwards = new Map<string, { service: string; address: string; port: number; since: number }>();
  let nextForward = 1;

  const ctx = (): DescribeContext => ({
    mesh: deps.mesh(),
    registry: deps.registry,
    snapshot: deps.controlPlane().current,
    resources: deps.controlPlane().appliedResources,
    faults: deps.faults.list(),
  });
  const kindOf = (k: string): (typeof OBJECT_KINDS)[number] => {
    if (isObjectKind(k)) return k;
    const near = closestMatch(k, OBJECT_KINDS);
    throw new MeshError('MESH_ERR_USAGE', [`unknown kind ${k}`], { hint: near ? `did you mean \`${near}\`?` : `use one of ${OBJECT_KINDS.join(', ')}` });
  };
  const notFound = (e: unknown): { status: number; body: unknown } => {
    if (e instanceof MeshError && (e.code === 'MESH_ERR_NOT_FOUND' || e.code === 'MESH_ERR_NO_MATCH')) return { status: 404, body: { error: e.message, hint: e.hint, code: e.code, status: 404 } };
    throw e;
  };
  const checkNames = (filter: TapFilter): void => {
    const names = knownNames(deps.mesh(), deps.registry);
    for (const key of ['to', 'from'] as const) {
      const v = filter[key];
      if (!v) continue;
      const bare = v.includes('/') ? v.split('/', 2)[1]! : v;
      if (names.includes(bare)) continue;
      const near = closestMatch(bare, names);
      throw new MeshError('MESH_ERR_NO_MATCH', [`service, workload or instance for --${key} ${v}`], {
        hint: near ? `did you mean \`${near}\`?` : `use one of ${[...new Set(names)].join(', ')}`,
      });
    }
  };

  admin
    .route('GET', '/tap', 'stream of request events, one JSON line each (?to=&from=&path=&method=&authority=)', (req) => {
      const filter: TapFilter = {
        to: req.query.get('to') ?? undefined,
        from: req.query.get('from') ?? undefined,
        path: req.query.get('path') ?? undefined,
        method: req.query.get('method') ?? undefined,
        authority: req.query.get('authority') ?? undefined,
      };
      try {
        checkNames(filter);
      } catch (e) {
        return notFound(e);
      }
      return {
        body: undefined,
        stream: (res) => {
          res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
          res.write(`${JSON.stringify({ type: 'tap:start', filter, time: Date.now() })}\n`);
          let dropped = false;
          const off = deps.bus.on('mesh:request:end', (e) => {
            if (dropped || !tapMatches(e, filter)) return;
            if (res.writableLength > bufferLimit) {
              dropped = true;
              off();
              res.end(`${JSON.stringify({ type: 'tap:dropped', message: `tap client too slow: more than ${bufferLimit} bytes unread, dropped so traffic is not slowed down; run tap again, with filters (--to, --path) to see fewer requests` })}\n`);
              return;
            }
            res.write(`${JSON.stringify(e)}\n`);
          });
          res.once('close', off);
        },
      };
    })
    .route('GET', '/stat', 'SUCCESS, RPS and latency percentiles per service, workload or instance (?group=&window=60s)', (req) => {
      const group = (req.query.get('group') ?? 'service') as StatGroup;
      if (!['service', 'workload', 'instance'].includes(group)) throw new MeshError('MESH_ERR_USAGE', [`unknown group ${group}`], { hint: 'use service, workload or instance' });
      const windowText = req.query.get('window') ?? '60s';
      let windowMs = Number.NaN;
      try {
        windowMs = /^\d+$/.test(windowText) ? Number(windowText) * 1000 : parseDuration(windowText);
      } catch {
        // reported below
      }
      if (!Number.isFinite(windowMs) || windowMs <= 0 || windowMs > MAX_WINDOW_MS) {
        throw new MeshError('MESH_ERR_USAGE', [`window ${windowText} is not a duration up to 10m`], { hint: 'pass e.g. --window 30s or 1m (at most 10m)' });
      }
      const mesh = deps.mesh();
      const all = deps.registry.all();
      const names =
        group === 'service' ? mesh.services.map((s) => s.name) : group === 'workload' ? mesh.services.flatMap((s) => s.workloads.map((w) => w.workload)) : all.map((i) => i.id);
      const members = (name: string) =>
        all.filter((i) => (group === 'service' ? i.workload.service === name : group === 'workload' ? i.workload.workload === name : i.id === name));
      const rows = window.stat(group, windowMs, names).map((r) => {
        const m = members(r.name);
        return { ...r, meshed: `${m.filter((i) => i.state === 'running').length}/${m.length}` };
      });
      return { body: { group, windowMs, rows } };
    })
    .route('GET', /^\/objects\/([^/]+)$/, `objects of a kind: ${OBJECT_KINDS.join(', ')} (?labelSelector=k=v,...)`, (req) => {
      const kind = kindOf(decodeURIComponent(req.params[0]!));
      let items = listObjects(ctx(), kind);
      const selector = req.query.get('labelSelector');
      if (selector) {
        const want = parseSelector(selector);
        items = items.filter((o) => want.every(([k, v]) => (o.metadata.labels ?? {})[k] === v));
      }
      return { body: { apiVersion: 'v1', kind: 'List', items } };
    })
    .route('GET', /^\/objects\/([^/]+)\/([^/]+)\/describe$/, 'one object and what applies to it, and why', async (req) => {
      const kind = kindOf(decodeURIComponent(req.params[0]!));
      let d: ReturnType<typeof describeObject>;
      try {
        d = describeObject(ctx(), kind, decodeURIComponent(req.params[1]!));
      } catch (e) {
        return notFound(e);
      }
      if (kind === 'services' || kind === 'workloads' || kind === 'pods') {
        const name = d.object.metadata.name;
        const ids = new Set(
          deps.registry
            .all()
            .filter((i) => (kind === 'services' ? i.workload.service === name : kind === 'workloads' ? i.workload.workload === name : i.id === name))
            .map((i) => i.id),
        );
        const live = (await deps.dataPlane().clusters()) as { clusters: Parameters<typeof liveLines>[0] };
        d.explain.push(...liveLines(live.clusters, ids));
      }
      return { body: d };
    })
    .route('GET', '/port-forwards', 'the port-forward listeners', () => ({ body: { portForwards: [...forwards.entries()].map(([name, f]) => ({ name, ...f })) } }))
    .route('POST', '/port-forwards', 'open a port-forward listener {"service","port"}; it lives as long as this request', async (req) => {
      const body = (req.body ?? {}) as { service?: unknown; port?: unknown; servicePort?: unknown };
      const mesh = deps.mesh();
      const service = typeof body.service === 'string' ? body.service : '';
      const port = typeof body.port === 'number' ? body.port : Number.NaN;
      const svc = mesh.services.find((s) => s.name === service);
      if (!svc) {
        const near = closestMatch(service, mesh.services.map((s) => s.name));
        return notFound(
          new MeshError('MESH_ERR_NOT_FOUND', ['services', service], { hint: near ? `did you mean \`${near}\`? (\`meshbox get services\` lists them)` : `use one of ${mesh.services.map((s) => s.name).join(', ')}` }),
        );
      }
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new MeshError('MESH_ERR_USAGE', [`port ${String(body.port)} is not a port number`], { hint: 'pass a local port 1-65535 (0 picks a free one)' });
      // the service port to forward to (kubectl's <local>:<remote>): one of its ports, else its first
      const ports = portsOf(svc);
      const target = ports.find((p) => p.port === body.servicePort) ?? ports[0]!;
      const name = `${GATEWAY_ID}/port-forward/${nextForward++}`;
      const address = '127.0.0.1';
      const listener: ListenerConfig = {
        name,
        proxyId: GATEWAY_ID,
        kind: 'outbound',
        address,
        port,
        routeConfig: PORT_FORWARD_ROUTE_CONFIG,
        boundHost: svc.name,
        servicePort: target.port,
        ...(target.protocol !== 'http' ? { protocol: target.protocol } : {}),
      };
      const { bound, errors } = await deps.dataPlane().bind([listener]);
      const err = errors[0];
      if (err) {
        if (err.code === 'EADDRINUSE') throw new MeshError('MESH_ERR_PORT_IN_USE', [`port-forward to ${svc.name}`, `${address}:${port}`, `\`meshbox port-forward ${svc.name} <otherPort>\``]);
        throw new MeshError('MESH_ERR_LISTEN', [`port-forward to ${svc.name}`, `${address}:${port}`, err.message]);
      }
      const actual = bound[0]!.port;
      await deps.controlPlane().addListener({ ...listener, port: actual });
      forwards.set(name, { service: svc.name, address, port: actual, since: Date.now() });
      return {
        body: undefined,
        stream: (res, httpReq) => {
          const remove = (): void => {
            forwards.delete(name);
            void deps.controlPlane().removeListener(name).catch(() => undefined);
          };
          // the client may have gone while the listener was being bound
          if (httpReq.socket.destroyed) return remove();
          res.once('close', remove);
          res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
          res.write(`${JSON.stringify({ type: 'port-forward:ready', name, service: svc.name, servicePort: target.port, address, port: actual })}\n`);
        },
      };
    });
}

/** `app=callme-service,version=v2` -> pairs; only equality, as `kubectl -l` most often is */
export function parseSelector(text: string): Array<[string, string]> {
  return text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const m = /^([A-Za-z0-9._/-]+)\s*==?\s*([A-Za-z0-9._-]*)$/.exec(p);
      if (!m) throw new MeshError('MESH_ERR_USAGE', [`label selector "${p}" is not key=value`], { hint: 'write it as -l app=callme-service,version=v2' });
      return [m[1]!, m[2]!] as [string, string];
    });
}
