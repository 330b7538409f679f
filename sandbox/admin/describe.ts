/**
 * The objects of a running sandbox as Kubernetes-style documents (`meshbox get`), and what
 * applies to each one and why (`meshbox describe`): the routes compiled from its
 * VirtualServices, the clusters and policies of its DestinationRules, the faults that hit it.
 *
 * Kinds (canonical plural names; the CLI maps short names like `vs`, `svc`, `po` to them):
 *   services, workloads, pods, virtualservices, destinationrules, gateways, faults
 */
import type { MeshDefinition } from '../config/mesh-types.js';
import type { LoadedResource } from '../config/resource.js';
import type { Registry, Instance } from '../control/registry.js';
import type { ClusterConfig, MeshSnapshot, RouteEntryConfig } from '../control/snapshot.js';
import type { FaultRecord } from '../faults/fault-spec.js';
import { MeshError } from '../errors.js';
import { closestMatch } from '../config/did-you-mean.js';
import { RequestMatcher } from '../proxy/routing/request-matcher.js';
import { explainAuthorizationPolicy, explainRequestAuthentication } from '../security/authz-explain.js';
import type { AuthorizationPolicySpec } from '../security/authz-types.js';
import type { RequestAuthenticationSpec } from '../security/jwt-rule.js';

export const OBJECT_KINDS = ['services', 'workloads', 'pods', 'virtualservices', 'destinationrules', 'gateways', 'faults', 'authorizationpolicies', 'requestauthentications'] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

const RULE_KINDS: Partial<Record<ObjectKind, string>> = {
  virtualservices: 'VirtualService',
  destinationrules: 'DestinationRule',
  gateways: 'Gateway',
  faults: 'Fault',
  authorizationpolicies: 'AuthorizationPolicy',
  requestauthentications: 'RequestAuthentication',
};

export interface MeshObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: unknown;
  status?: Record<string, unknown>;
}

export interface DescribeContext {
  mesh: MeshDefinition;
  registry: Registry;
  snapshot: MeshSnapshot | undefined;
  resources: readonly LoadedResource[];
  faults: readonly FaultRecord[];
}

export function isObjectKind(kind: string): kind is ObjectKind {
  return (OBJECT_KINDS as readonly string[]).includes(kind);
}

function instancesOf(ctx: DescribeContext, service: string): Instance[] {
  return ctx.registry.all().filter((i) => i.workload.service === service);
}

function ready(i: Instance): boolean {
  return i.healthy && i.state === 'running' && !i.drained;
}

/** the VirtualServices / DestinationRules whose host is this service (by any of its names) */
function rulesForService(ctx: DescribeContext, service: string): { vs: LoadedResource[]; dr: LoadedResource[] } {
  const svc = ctx.snapshot?.services.find((s) => s.name === service);
  const names = svc ? new Set([svc.name, `${svc.name}.${svc.namespace}`, `${svc.name}.${svc.namespace}.svc`, svc.fqdn]) : new Set([service]);
  const routesTo = (r: LoadedResource): boolean => JSON.stringify((r.spec as { http?: unknown }).http ?? []).includes(`"host":"${service}`);
  return {
    vs: ctx.resources.filter((r) => r.kind === 'VirtualService' && (((r.spec as { hosts?: string[] }).hosts ?? []).some((h) => names.has(h)) || routesTo(r))),
    dr: ctx.resources.filter((r) => r.kind === 'DestinationRule' && names.has((r.spec as { host?: string }).host ?? '')),
  };
}

function location(r: LoadedResource): string {
  return `${r.source.file}:${r.source.line}:${r.source.col}`;
}

export function listObjects(ctx: DescribeContext, kind: ObjectKind): MeshObject[] {
  const ns = ctx.mesh.namespace;
  switch (kind) {
    case 'services':
      return ctx.mesh.services.map((s) => {
        const inst = instancesOf(ctx, s.name);
        const rules = rulesForService(ctx, s.name);
        return {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: s.name, namespace: ns, labels: { app: s.name } },
          spec: { ports: [{ name: s.protocol, port: s.port, protocol: 'TCP' }], selector: { app: s.name } },
          status: {
            fqdn: `${s.name}.${ns}.svc.cluster.local`,
            workloads: s.workloads.map((w) => w.workload),
            endpoints: { ready: inst.filter(ready).length, total: inst.length },
            virtualServices: rules.vs.map((r) => r.metadata.name),
            destinationRules: rules.dr.map((r) => r.metadata.name),
          },
        };
      });
    case 'workloads':
      return ctx.mesh.services.flatMap((s) =>
        s.workloads.map((w) => {
          const inst = ctx.registry.all().filter((i) => i.workload.workload === w.workload);
          return {
            apiVersion: 'meshbox.dev/v1alpha1',
            kind: 'Workload',
            metadata: { name: w.workload, namespace: ns, labels: w.labels },
            spec: { service: w.service, version: w.version, replicas: w.replicas },
            status: { readyReplicas: inst.filter(ready).length, replicas: inst.length, instances: inst.map((i) => i.id) },
          };
        }),
      );
    case 'pods':
      return ctx.registry.all().map((i) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: i.id, namespace: ns, labels: i.workload.labels },
        spec: { workload: i.workload.workload, service: i.workload.service },
        status: { phase: i.state, ready: ready(i), healthy: i.healthy, drained: i.drained, restarts: i.restarts, pid: i.pid, appPort: i.appPort, sidecar: i.sidecar },
      }));
    default: {
      const k = RULE_KINDS[kind]!;
      const fromFiles = ctx.resources.filter((r) => r.kind === k).map((r) => ({
        apiVersion: r.apiVersion,
        kind: r.kind,
        metadata: { name: r.metadata.name, namespace: r.metadata.namespace, annotations: { 'meshbox.dev/source': location(r) } },
        spec: r.spec,
      }));
      if (kind !== 'faults') return fromFiles;
      const runtime = ctx.faults.filter((f) => f.origin === 'runtime').map((f) => ({
        apiVersion: 'meshbox.dev/v1alpha1',
        kind: 'Fault',
        metadata: { name: f.name, namespace: ns, annotations: { 'meshbox.dev/origin': 'runtime', ...(f.expiresAt ? { 'meshbox.dev/expires': new Date(f.expiresAt).toISOString() } : {}) } },
        spec: f.spec,
      }));
      return [...fromFiles, ...runtime];
    }
  }
}

export function findObject(ctx: DescribeContext, kind: ObjectKind, name: string): MeshObject {
  const all = listObjects(ctx, kind);
  const found = all.find((o) => o.metadata.name === name);
  if (found) return found;
  const near = closestMatch(name, all.map((o) => o.metadata.name));
  throw new MeshError('MESH_ERR_NOT_FOUND', [kind, name], {
    hint: near ? `did you mean \`${near}\`? (\`meshbox get ${kind}\` lists them)` : `\`meshbox get ${kind}\` lists them${all.length === 0 ? ' (there are none)' : ''}`,
  });
}

function describeRoute(r: RouteEntryConfig): string[] {
  const out = [`${r.origin.resource}${r.origin.index >= 0 ? ` http[${r.origin.index}]` : ''}${r.origin.location ? ` (${r.origin.location})` : ''}`];
  out.push(`  match: ${r.match.length === 0 ? 'every request' : r.match.map((m) => `(${new RequestMatcher(m).explain()})`).join(' or ')}`);
  const a = r.action;
  if (a.type === 'route') {
    const total = a.destinations.reduce((s, d) => s + d.weight, 0);
    out.push(
      `  route: ${a.destinations
        .map((d) => `${d.clusterName}${a.destinations.length > 1 ? ` ${total > 0 ? Math.round((d.weight / total) * 100) : Math.round(100 / a.destinations.length)}%` : ''}`)
        .join(', ')}`,
    );
  } else if (a.type === 'redirect') out.push(`  redirect: ${JSON.stringify(a.redirect)}`);
  else out.push(`  direct response: ${a.status}`);
  out.push(`  timeout: ${r.timeoutMs === null ? 'none (Istio default)' : `${r.timeoutMs}ms`}`);
  const rt = r.retry;
  out.push(
    `  retries: ${rt.attempts} attempt(s) on ${rt.retryOn.join(',') || '-'}${rt.perTryTimeoutMs ? `, perTryTimeout ${rt.perTryTimeoutMs}ms` : ''}${rt.isDefault ? ' (Istio default policy)' : ''}`,
  );
  if (r.fault) out.push(`  fault: ${JSON.stringify(r.fault)}${r.faultMode === 'istio' ? ' (client side: retries and timeout off, as in Istio)' : ''}`);
  if (r.rewrite) out.push(`  rewrite: ${JSON.stringify(r.rewrite)}`);
  return out;
}

function describeCluster(c: ClusterConfig): string[] {
  const healthy = c.endpoints.filter((e) => e.healthy).length;
  const out = [`${c.name}: ${c.lb}, connect timeout ${c.connectTimeoutMs}ms, ${healthy}/${c.endpoints.length} endpoints healthy (${c.endpoints.map((e) => e.id).join(', ') || 'none'})`];
  out.push(`  policy: ${c.policySource ?? 'none (Istio defaults)'}`);
  const tp = c.trafficPolicy;
  if (tp?.connectionPool) out.push(`  connectionPool: ${JSON.stringify(tp.connectionPool)}`);
  if (tp?.outlierDetection) out.push(`  outlierDetection: ${JSON.stringify(tp.outlierDetection)}`);
  return out;
}

/** which route configurations (proxies) carry the routes of this resource */
function routeUsers(ctx: DescribeContext, resource: string): Map<string, RouteEntryConfig[]> {
  const users = new Map<string, RouteEntryConfig[]>();
  for (const rc of Object.values(ctx.snapshot?.routeConfigs ?? {})) {
    for (const vh of rc.virtualHosts) {
      for (const r of vh.routes) {
        if (r.origin.resource !== resource) continue;
        const list = users.get(rc.name) ?? [];
        if (!list.some((x) => x.origin.index === r.origin.index)) list.push(r);
        users.set(rc.name, list);
      }
    }
  }
  return users;
}

function proxiesOf(routeConfigs: Iterable<string>): string {
  return [...routeConfigs].map((n) => n.replace(/^outbound\//, '')).join(', ');
}

function faultsHitting(ctx: DescribeContext, pred: (endpoints: string[]) => boolean): string[] {
  return (ctx.snapshot?.faults ?? []).filter((f) => pred(f.endpoints)).map((f) => `${f.name}: ${f.summary}${f.source ? ` (${f.source})` : ''}`);
}

/** `describe`: the object, then why it behaves as it does, one line each */
export function describeObject(ctx: DescribeContext, kind: ObjectKind, name: string): { object: MeshObject; explain: string[] } {
  const object = findObject(ctx, kind, name);
  const lines: string[] = [];
  const snap = ctx.snapshot;
  const clusters = Object.values(snap?.clusters ?? {});
  switch (kind) {
    case 'services': {
      const rules = rulesForService(ctx, name);
      const fq = (object.status as { fqdn: string }).fqdn;
      lines.push(`Routes (how sidecars route ${name}; first match wins):`);
      const seen = new Set<string>();
      for (const rc of Object.values(snap?.routeConfigs ?? {})) {
        for (const vh of rc.virtualHosts) {
          if (!vh.domains.includes(name) && !vh.routes.some((r) => r.action.type === 'route' && r.action.destinations.some((d) => d.host === fq || d.host === name))) continue;
          const text = vh.routes.flatMap(describeRoute).join('\n');
          const key = `${vh.name}\n${text}`;
          if (seen.has(key)) continue;
          seen.add(key);
          const users = [...Object.values(snap?.routeConfigs ?? {})].filter((o) => o.virtualHosts.some((v) => v.name === vh.name && v.routes.flatMap(describeRoute).join('\n') === text)).map((o) => o.name);
          lines.push(`  virtual host ${vh.name} in ${proxiesOf(users)}:`);
          for (const l of text.split('\n')) lines.push(`    ${l}`);
        }
      }
      lines.push(`VirtualServices: ${rules.vs.map((r) => `${r.metadata.namespace}/${r.metadata.name} (${location(r)})`).join(', ') || `none: Istio's default route (round robin over every endpoint)`}`);
      lines.push(`DestinationRules: ${rules.dr.map((r) => `${r.metadata.namespace}/${r.metadata.name} (${location(r)})`).join(', ') || 'none: no subsets, Istio default traffic policy'}`);
      lines.push('Clusters:');
      for (const c of clusters.filter((c) => c.kind === 'outbound' && c.service?.name === name)) for (const l of describeCluster(c)) lines.push(`  ${l}`);
      const ids = new Set(instancesOf(ctx, name).map((i) => i.id));
      const faults = faultsHitting(ctx, (eps) => eps.some((e) => ids.has(e)));
      lines.push(`Faults: ${faults.length ? '' : 'none'}`);
      for (const f of faults) lines.push(`  ${f}`);
      break;
    }
    case 'workloads':
    case 'pods': {
      const ids = new Set(kind === 'pods' ? [name] : ((object.status as { instances: string[] }).instances ?? []));
      const inCluster = clusters.filter((c) => c.kind === 'outbound' && c.endpoints.some((e) => ids.has(e.id)));
      lines.push(`Selected by (clusters whose endpoints include it; subsets by labels ${JSON.stringify(object.metadata.labels ?? {})}):`);
      for (const c of inCluster) lines.push(`  ${c.name}${c.subset ? ` (${c.policySource})` : ''}`);
      const keys = new Set(inCluster.map((c) => c.key));
      lines.push('Routes sending traffic to it:');
      const seen = new Set<string>();
      for (const rc of Object.values(snap?.routeConfigs ?? {})) {
        for (const vh of rc.virtualHosts) {
          for (const r of vh.routes) {
            if (r.action.type !== 'route' || !r.action.destinations.some((d) => keys.has(d.clusterKey))) continue;
            const head = describeRoute(r)[0]!;
            if (seen.has(head)) continue;
            seen.add(head);
            const a = r.action;
            const total = a.destinations.reduce((s, d) => s + d.weight, 0);
            const share = a.destinations.filter((d) => keys.has(d.clusterKey)).reduce((s, d) => s + d.weight, 0);
            lines.push(`  ${head}: ${total > 0 ? Math.round((share / total) * 100) : 100}% of matching requests`);
          }
        }
      }
      const faults = faultsHitting(ctx, (eps) => eps.some((e) => ids.has(e)));
      lines.push(`Faults: ${faults.length ? '' : 'none'}`);
      for (const f of faults) lines.push(`  ${f}`);
      break;
    }
    case 'virtualservices': {
      const spec = object.spec as { hosts?: string[]; gateways?: string[] };
      const gateways = spec.gateways?.length ? spec.gateways : ['mesh'];
      lines.push(`Hosts: ${(spec.hosts ?? []).join(', ')}`);
      lines.push(`Gateways: ${gateways.join(', ')}${spec.gateways?.length ? '' : ' (no `gateways`: sidecars only)'}`);
      const users = routeUsers(ctx, `VirtualService ${object.metadata.namespace}/${name}`);
      if (users.size === 0) lines.push(`Applied by: no proxy (no host is a mesh service or a Gateway host, or every route is excluded by sourceLabels/gateways)`);
      else {
        lines.push(`Applied by: ${proxiesOf(users.keys())}`);
        const first = [...users.values()][0]!;
        lines.push('Routes:');
        for (const r of first) for (const l of describeRoute(r)) lines.push(`  ${l}`);
      }
      break;
    }
    case 'destinationrules': {
      const own = clusters.filter((c) => c.policySource?.startsWith(`DestinationRule ${object.metadata.namespace}/${name}`));
      lines.push(`Host: ${(object.spec as { host?: string }).host ?? ''}`);
      lines.push(own.length ? 'Clusters it configures:' : 'Clusters it configures: none (the host is not a mesh service, or another DestinationRule for it came first)');
      for (const c of own) for (const l of describeCluster(c)) lines.push(`  ${l}`);
      break;
    }
    case 'gateways': {
      const gwName = `${object.metadata.namespace}/${name}`;
      const bound = ctx.resources.filter((r) => r.kind === 'VirtualService' && ((r.spec as { gateways?: string[] }).gateways ?? []).some((g) => g === name || g === gwName));
      const selector = (object.spec as { selector?: Record<string, string> }).selector ?? {};
      const matches = Object.entries(selector).every(([k, v]) => ctx.mesh.ingress.labels[k] === v);
      lines.push(`Selector: ${JSON.stringify(selector)}: ${matches ? 'selects the ingress gateway' : `does not select the ingress gateway (its labels are ${JSON.stringify(ctx.mesh.ingress.labels)})`}`);
      lines.push(`VirtualServices bound: ${bound.map((r) => `${r.metadata.namespace}/${r.metadata.name}`).join(', ') || 'none (requests get 404 NR)'}`);
      break;
    }
    case 'authorizationpolicies':
      lines.push(...explainAuthorizationPolicy(snap, object.metadata, object.spec as AuthorizationPolicySpec));
      break;
    case 'requestauthentications':
      lines.push(...explainRequestAuthentication(snap, object.metadata, object.spec as RequestAuthenticationSpec));
      break;
    case 'faults': {
      const f = snap?.faults.find((x) => x.name === name);
      lines.push(f ? `Hits: ${f.endpoints.join(', ') || 'no instance (no workload matches its target)'}` : 'Hits: nothing (disabled)');
      if (f) lines.push(`Does: ${f.summary}`);
      break;
    }
  }
  return { object, explain: lines };
}

interface LiveCluster {
  proxy: string;
  name: string;
  hosts: Array<{ id: string; ejected?: boolean; times_ejected?: number; rq_active?: number; rq_total?: number; rq_error?: number }>;
}

/**
 * What the data plane sees right now for these instances: outlier ejections (per calling proxy,
 * as Envoy's outlier detection is) and request counters, from the data plane's /clusters.
 */
export function liveLines(clusters: readonly LiveCluster[], instanceIds: ReadonlySet<string>): string[] {
  const ejected: string[] = [];
  const totals = new Map<string, { total: number; errors: number; active: number }>();
  for (const c of clusters) {
    if (!c.name.startsWith('outbound|') || c.name.split('|')[2] !== '') continue;
    for (const h of c.hosts) {
      if (!instanceIds.has(h.id)) continue;
      if (h.ejected) ejected.push(`${h.id} ejected by ${c.proxy}'s outlier detection (${h.times_ejected ?? 1} time(s))`);
      const t = totals.get(h.id) ?? { total: 0, errors: 0, active: 0 };
      t.total += h.rq_total ?? 0;
      t.errors += h.rq_error ?? 0;
      t.active += h.rq_active ?? 0;
      totals.set(h.id, t);
    }
  }
  const out = ['Live (data plane):'];
  for (const [id, t] of [...totals.entries()].sort()) out.push(`  ${id}: ${t.total} requests from sidecars and the gateway, ${t.errors} errors, ${t.active} active`);
  out.push(...(ejected.length ? ejected.map((e) => `  ${e}`) : ['  no outlier ejections']));
  return out;
}
