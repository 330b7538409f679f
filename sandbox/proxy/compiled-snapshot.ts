/**
 * A MeshSnapshot indexed for the request path: listeners, proxies and route tables by name,
 * services by every host alias. Built once per snapshot in the worker; requests hold the one
 * they started with, so a swap never changes a request midway.
 */
import { hostAliases, type CompiledFault, type ListenerConfig, type MeshSnapshot, type ProxyConfig, type ServiceRef } from '../control/snapshot.js';
import { RouteTable } from './routing/route-table.js';
import { retainBuckets } from '../rate-limit/bucket-store.js';
import { liveBuckets } from '../rate-limit/local-rate-limit-filter.js';

export interface CompiledSnapshot {
  snapshot: MeshSnapshot;
  listeners: Map<string, ListenerConfig>;
  proxies: Map<string, ProxyConfig>;
  routeTables: Map<string, RouteTable>;
  /** by service short name */
  services: Map<string, ServiceRef>;
  /** by every name a host may be written with: `callme-service`, `callme-service.default`, FQDN */
  hosts: Map<string, ServiceRef>;
  /** meshbox HTTP faults by the instance id whose inbound sidecar applies them */
  httpFaults: Map<string, CompiledFault[]>;
}

/**
 * `routeTables`: prebuilt tables by route configuration name (a shipped snapshot, whose
 * `routeConfigs` is empty); otherwise they are built from `snapshot.routeConfigs`, once per
 * distinct route list (sidecars with the same routes share one table).
 */
export function compileSnapshot(snapshot: MeshSnapshot, routeTables?: Map<string, RouteTable>): CompiledSnapshot {
  const hosts = new Map<string, ServiceRef>();
  for (const s of snapshot.services) for (const alias of hostAliases(s)) hosts.set(alias, s);
  // ServiceEntry hosts, as declared (the first port's entry stands for the host)
  for (const s of snapshot.external ?? []) if (!hosts.has(s.fqdn)) hosts.set(s.fqdn, s);
  // local rate limit buckets of configs this snapshot no longer has go
  retainBuckets(liveBuckets(snapshot));
  const httpFaults = new Map<string, CompiledFault[]>();
  for (const f of snapshot.faults) {
    if (!f.http) continue;
    for (const id of f.endpoints) httpFaults.set(id, [...(httpFaults.get(id) ?? []), f]);
  }
  return {
    httpFaults,
    snapshot,
    listeners: new Map(snapshot.listeners.map((l) => [l.name, l])),
    proxies: new Map(snapshot.proxies.map((p) => [p.id, p])),
    routeTables: routeTables ?? buildRouteTables(snapshot),
    services: new Map(snapshot.services.map((s) => [s.name, s])),
    hosts,
  };
}

function buildRouteTables(snapshot: MeshSnapshot): Map<string, RouteTable> {
  const byList = new Map<unknown, RouteTable>();
  const out = new Map<string, RouteTable>();
  for (const [name, rc] of Object.entries(snapshot.routeConfigs)) {
    let table = byList.get(rc.virtualHosts);
    if (!table) byList.set(rc.virtualHosts, (table = new RouteTable(rc)));
    out.set(name, table);
  }
  return out;
}
