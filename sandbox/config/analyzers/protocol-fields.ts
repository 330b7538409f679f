/**
 * MB2017: protocol-specific fields on a port of another protocol, which never apply (as
 * `istioctl analyze` flags configuration that has no effect). The ports' protocols come from the
 * mesh (meshbox.yaml `port`/`ports`, Kubernetes Service ports: protocol selection), so this runs
 * when the mesh is known:
 *
 * - a `tcp[]` route matching a `port` served as HTTP (http, http2, grpc, grpc-web): HTTP ports
 *   route with `http[]`, the route is never used there; a `tcp[]` route on a service without any
 *   port the TCP proxy serves (TCP-family or detected);
 * - a `tls[]` route matching a port that is not a `tls`/`https` (or detected) port;
 * - an `http[]` match `port` served as TCP (tcp, tls, https, mongo, mysql, redis);
 * - DestinationRule HTTP settings (`connectionPool.http`: h2UpgradePolicy, http1MaxPendingRequests,
 *   ...; `consistentHash` on a header, cookie or query parameter) for a service whose ports are
 *   all TCP, or in `portLevelSettings` of a TCP port.
 * On a Gateway-bound VirtualService, `tcp[]` and `http[]` match ports are checked against the
 * Gateway's server protocols.
 */
import { codecOf, type SelectedProtocol } from '../protocol-selection.js';
import { meshServiceForHost, gatewayKey } from '../hosts.js';
import { portsOf } from '../service-ports.js';
import type { ServicePortSpec, ServiceSpec } from '../mesh-types.js';
import type { Gateway, VirtualService } from '../resource.js';
import type { AnalysisContext, Path } from './context.js';
import { refName } from './context.js';
import { formatPath } from '../schema-findings.js';

type Family = 'http' | 'tcp' | 'tls' | 'detected';

function family(protocol: SelectedProtocol): Family {
  if (protocol === 'tls' || protocol === 'https') return 'tls';
  const c = codecOf(protocol);
  return c === 'http' ? 'http' : c === 'sniff' ? 'detected' : 'tcp';
}

function describe(p: ServicePortSpec): string {
  return `${p.name ? `${p.name} ` : ''}(${p.port}) is served as ${p.protocol === 'unknown' ? 'detected' : p.protocol.toUpperCase()}`;
}

/** a Gateway server protocol as a family */
function serverFamily(protocol: string): Family | undefined {
  const p = protocol.toUpperCase();
  if (['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB'].includes(p)) return 'http';
  if (p === 'TCP' || p === 'MONGO') return 'tcp';
  if (p === 'TLS' || p === 'HTTPS') return 'tls';
  return undefined;
}

const HTTP_POOL_FIELDS = ['http1MaxPendingRequests', 'http2MaxRequests', 'maxRequestsPerConnection', 'maxRetries', 'idleTimeout', 'h2UpgradePolicy', 'useClientProtocol', 'maxConcurrentStreams'];

export function checkProtocolFields(ctx: AnalysisContext): void {
  const mesh = ctx.mesh;
  for (const vs of ctx.virtualServices) {
    const ns = vs.metadata.namespace;
    const gateways = vs.spec.gateways ?? [];
    const sidecars = gateways.length === 0 || gateways.includes('mesh');
    const services = mesh ? (vs.spec.hosts ?? []).map((h) => meshServiceForHost(mesh, h, ns)).filter((s): s is ServiceSpec => s !== undefined) : [];
    const ports = services.flatMap((s) => portsOf(s).map((p) => ({ svc: s, p })));
    const servers = bound(ctx, vs).flatMap((g) => (g.spec.servers ?? []).map((s) => ({ number: s.port.number, family: serverFamily(s.port.protocol), gw: g })));
    const at = (n: number): { where: string; family: Family | undefined } | undefined => {
      const p = sidecars ? ports.find((x) => x.p.port === n) : undefined;
      if (p) return { where: `port ${describe(p.p)} of ${p.svc.name}`, family: family(p.p.protocol) };
      const s = servers.find((x) => x.number === n);
      if (s) return { where: `${refName(s.gw)} server port ${n} is ${s.family?.toUpperCase() ?? 'not served'}`, family: s.family };
      return undefined;
    };
    (vs.spec.tcp ?? []).forEach((route, i) => {
      const blocks = route.match ?? [];
      blocks.forEach((m, j) => {
        if (m.port === undefined) return;
        const known = at(m.port);
        if (known?.family === 'http') {
          report(ctx, vs, ['spec', 'tcp', i, 'match', j, 'port'], `spec.tcp[${i}].match[${j}].port ${m.port}: ${known.where}: a tcp route never applies to an HTTP port`, 'route HTTP ports with `http[]`, or declare the port `tcp` (name `tcp-...` or appProtocol tcp)');
        }
      });
      if (blocks.every((m) => m.port === undefined) && sidecars && ports.length > 0 && servers.length === 0 && ports.every((x) => family(x.p.protocol) === 'http')) {
        report(ctx, vs, ['spec', 'tcp', i], `spec.tcp[${i}]: ${listServices(services)} ${services.length === 1 ? 'has' : 'have'} HTTP ports only: a tcp route never applies`, 'route HTTP ports with `http[]`, or declare a `tcp` port');
      }
    });
    (vs.spec.tls ?? []).forEach((route, i) => {
      (route.match ?? []).forEach((m, j) => {
        if (m.port === undefined) return;
        const known = at(m.port);
        if (known && known.family !== 'tls' && known.family !== 'detected' && known.family !== undefined) {
          report(ctx, vs, ['spec', 'tls', i, 'match', j, 'port'], `spec.tls[${i}].match[${j}].port ${m.port}: ${known.where}: a tls route applies to TLS ports only (routed by SNI)`, 'declare the port `tls` or `https` (name `tls-...`), or use a `tcp` route');
        }
      });
    });
    (vs.spec.http ?? []).forEach((route, i) => {
      (route.match ?? []).forEach((m, j) => {
        if (m.port === undefined) return;
        const known = at(m.port);
        if (known?.family === 'tcp' || known?.family === 'tls') {
          report(ctx, vs, ['spec', 'http', i, 'match', j, 'port'], `spec.http[${i}].match[${j}].port ${m.port}: ${known.where}: an http match never applies to a TCP port`, 'route TCP ports with `tcp[]`, or name the port `http-...` if it speaks HTTP');
        }
      });
    });
  }
  if (!mesh) return;
  for (const dr of ctx.destinationRules) {
    const svc = meshServiceForHost(mesh, dr.spec.host, dr.metadata.namespace);
    if (!svc) continue;
    const ports = portsOf(svc);
    const tcpOnly = ports.every((p) => family(p.protocol) === 'tcp' || family(p.protocol) === 'tls');
    const policies: Array<{ path: Path; policy: Record<string, unknown> | undefined; ports: ServicePortSpec[] }> = [
      { path: ['spec', 'trafficPolicy'], policy: dr.spec.trafficPolicy as Record<string, unknown> | undefined, ports: tcpOnly ? ports : [] },
      ...(dr.spec.subsets ?? []).map((s, i) => ({ path: ['spec', 'subsets', i, 'trafficPolicy'] as Path, policy: s.trafficPolicy as Record<string, unknown> | undefined, ports: tcpOnly ? ports : [] })),
    ];
    for (const { path, policy } of [...policies]) {
      const levels = (policy?.['portLevelSettings'] as Array<Record<string, unknown>> | undefined) ?? [];
      levels.forEach((l, k) => {
        const n = (l['port'] as { number?: number } | undefined)?.number;
        const p = ports.find((x) => x.port === n);
        if (p && (family(p.protocol) === 'tcp' || family(p.protocol) === 'tls')) policies.push({ path: [...path, 'portLevelSettings', k], policy: l, ports: [p] });
      });
    }
    for (const { path, policy, ports: tcpPorts } of policies) {
      if (!policy || tcpPorts.length === 0) continue;
      const where = tcpPorts.length === 1 ? `port ${describe(tcpPorts[0]!)}` : `every port of ${svc.name} is served as TCP`;
      const http = (policy['connectionPool'] as { http?: Record<string, unknown> } | undefined)?.http;
      for (const f of HTTP_POOL_FIELDS) {
        if (http?.[f] === undefined) continue;
        report(ctx, dr, [...path, 'connectionPool', 'http', f], `${formatPath([...path, 'connectionPool', 'http', f])}: ${where}: HTTP connection pool settings have no effect on TCP traffic`, 'TCP connections are limited by `connectionPool.tcp` (maxConnections, connectTimeout)');
      }
      const hash = (policy['loadBalancer'] as { consistentHash?: Record<string, unknown> } | undefined)?.consistentHash;
      for (const f of ['httpHeaderName', 'httpCookie', 'httpQueryParameterName']) {
        if (hash?.[f] === undefined) continue;
        report(ctx, dr, [...path, 'loadBalancer', 'consistentHash', f], `${formatPath([...path, 'loadBalancer', 'consistentHash', f])}: ${where}: TCP connections carry no HTTP ${f === 'httpCookie' ? 'cookie' : f === 'httpHeaderName' ? 'header' : 'query parameter'} to hash`, 'hash TCP connections with `useSourceIp: true`');
      }
    }
  }
}

function report(ctx: AnalysisContext, r: VirtualService | import('../resource.js').DestinationRule, path: Path, message: string, hint: string): void {
  ctx.report('PROTOCOL_MISMATCH', r, path, message, hint);
}

function listServices(services: ServiceSpec[]): string {
  return services.map((s) => s.name).join(', ');
}

/** the Gateways a VirtualService is bound to (other than `mesh`) */
function bound(ctx: AnalysisContext, vs: VirtualService): Gateway[] {
  const keys = new Set((vs.spec.gateways ?? []).filter((g) => g !== 'mesh').map((g) => gatewayKey(g, vs.metadata.namespace)));
  return ctx.gateways.filter((g) => keys.has(`${g.metadata.namespace}/${g.metadata.name}`));
}
