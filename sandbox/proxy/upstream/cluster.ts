/**
 * Cluster: a set of upstream endpoints (a service, or one subset of it) with its load balancer,
 * its keep-alive connection pool and its counters. Envoy's `outbound|8080|v2|<fqdn>`.
 *
 * Clusters live in the ClusterManager across snapshots: a new snapshot updates a cluster's
 * config and endpoint list in place, so counters, LB state and pooled connections survive rule
 * reloads, and requests in flight keep their Endpoint objects.
 */
import http from 'node:http';
import type { ClusterConfig } from '../../control/snapshot.js';
import type { Rng } from '../../rng.js';
import { Endpoint } from './endpoint.js';
import { loadBalancers, pickHost, type LoadBalancer } from './load-balancer.js';

export class Cluster {
  readonly agent: http.Agent;
  private lb: LoadBalancer;
  private endpoints = new Map<string, Endpoint>();
  private healthyHosts: Endpoint[] = [];
  /** requests that found no healthy host */
  noHealthyUpstream = 0;

  constructor(public config: ClusterConfig) {
    this.agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxFreeSockets: 256, scheduling: 'lifo' });
    this.lb = loadBalancers[config.lb]();
    this.update(config);
  }

  get name(): string {
    return this.config.name;
  }

  update(config: ClusterConfig): void {
    if (config.lb !== this.lb.policy) this.lb = loadBalancers[config.lb]();
    this.config = config;
    const next = new Map<string, Endpoint>();
    for (const ec of config.endpoints) {
      const existing = this.endpoints.get(ec.id);
      if (existing) {
        existing.config = ec;
        next.set(ec.id, existing);
      } else {
        next.set(ec.id, new Endpoint(ec));
      }
    }
    this.endpoints = next;
    this.refreshHealthy();
  }

  refreshHealthy(): void {
    this.healthyHosts = [...this.endpoints.values()].filter((e) => e.healthy);
  }

  hosts(): Endpoint[] {
    return [...this.endpoints.values()];
  }

  /** a healthy host, preferring ones this request has not tried; undefined when none is healthy */
  pick(rng: Rng, exclude?: ReadonlySet<string>): Endpoint | undefined {
    return pickHost(this.lb, this.healthyHosts, rng, exclude);
  }

  /** closes idle pooled connections; requests in flight keep theirs until they end */
  retire(): void {
    for (const sockets of Object.values(this.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
  }

  destroy(): void {
    this.agent.destroy();
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.config.name,
      kind: this.config.kind,
      lb: this.config.lb,
      policy: this.config.policySource,
      no_healthy_upstream: this.noHealthyUpstream,
      hosts: this.hosts().map((h) => h.toJSON()),
    };
  }
}

export class ClusterManager {
  private readonly clusters = new Map<string, Cluster>();

  update(configs: Record<string, ClusterConfig>): void {
    for (const [key, config] of Object.entries(configs)) {
      const existing = this.clusters.get(key);
      if (existing) existing.update(config);
      else this.clusters.set(key, new Cluster(config));
    }
    for (const [key, cluster] of this.clusters) {
      if (!(key in configs)) {
        cluster.retire();
        this.clusters.delete(key);
      }
    }
  }

  get(key: string): Cluster | undefined {
    return this.clusters.get(key);
  }

  all(): Cluster[] {
    return [...this.clusters.values()];
  }

  destroy(): void {
    for (const c of this.clusters.values()) c.destroy();
    this.clusters.clear();
  }
}
