import type { EndpointConfig } from '../../control/snapshot.js';

/**
 * One upstream host of a cluster, with the live counters Envoy keeps per host (`/clusters`).
 * The state survives snapshot swaps: a new snapshot updates `config`, counters carry on.
 */
export class Endpoint {
  /** requests in flight to this host (LEAST_REQUEST reads it) */
  active = 0;
  requests = 0;
  success = 0;
  errors = 0;
  connectFailures = 0;
  timeouts = 0;
  /** connections opened to this host */
  connections = 0;

  constructor(public config: EndpointConfig) {}

  get id(): string {
    return this.config.id;
  }

  get address(): string {
    return `${this.config.address}:${this.config.port}`;
  }

  get healthy(): boolean {
    return this.config.healthy;
  }

  toJSON(): Record<string, unknown> {
    return {
      id: this.id,
      address: this.address,
      healthy: this.healthy,
      workload: this.config.meta.workload,
      rq_active: this.active,
      rq_total: this.requests,
      rq_success: this.success,
      rq_error: this.errors,
      cx_total: this.connections,
      cx_connect_fail: this.connectFailures,
      rq_timeout: this.timeouts,
    };
  }
}
