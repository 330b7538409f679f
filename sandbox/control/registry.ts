/**
 * The service registry: every workload instance the runtime runs, with its ports and health.
 * Fed by the runtime (started/exited) and the health checker (healthy/unhealthy); the control
 * plane recompiles and pushes a snapshot on every change (coalesced).
 */
import { EventEmitter } from 'node:events';
import type { WorkloadSpec } from '../config/mesh-types.js';

export type InstanceState = 'pending' | 'starting' | 'running' | 'exited' | 'stopped';

export interface SidecarPorts {
  /** the inbound listener of the service's first port */
  inbound: number;
  outbound: number;
  /** per-service outbound listeners (each service's first port): service name -> port */
  services: Record<string, number>;
  /** inbound listeners of the workload's other service ports: service port -> sidecar port */
  inboundPorts?: Record<string, number>;
  /** outbound listeners of the other ports of every service: `<service>:<port>` -> sidecar port */
  servicePorts?: Record<string, number>;
}

export interface Instance {
  /** `callme-service-v2-1` */
  id: string;
  workload: WorkloadSpec;
  /** 1-based replica number */
  ordinal: number;
  /** where the app itself listens (its service's first port: `PORT`, health checks) */
  appPort: number;
  /**
   * where the app listens for each of its service's ports, in their order (the first is
   * `appPort`; `PORT_<NAME>`); absent: one port
   */
  appPorts?: number[];
  sidecar: SidecarPorts;
  state: InstanceState;
  healthy: boolean;
  /** taken out of load balancing by hand (workload chaos), whatever its health */
  drained: boolean;
  /** set when the instance cannot start and is not restarted (why: command not found, image missing) */
  failure?: string;
  pid?: number;
  restarts: number;
  /**
   * meshbox is restarting this instance on purpose (hot reload of its code or meshbox.yaml): while
   * it is the only one left, requests for its clusters wait for it instead of failing
   */
  restarting?: boolean;
}

export function instanceId(workload: WorkloadSpec, ordinal: number): string {
  return `${workload.workload}-${ordinal}`;
}

export class Registry extends EventEmitter {
  private readonly instances = new Map<string, Instance>();

  add(instance: Instance): void {
    this.instances.set(instance.id, instance);
    this.emit('change', instance.id);
  }

  remove(id: string): void {
    if (this.instances.delete(id)) this.emit('change', id);
  }

  get(id: string): Instance | undefined {
    return this.instances.get(id);
  }

  all(): Instance[] {
    return [...this.instances.values()];
  }

  update(id: string, patch: Partial<Pick<Instance, 'state' | 'healthy' | 'pid' | 'restarts' | 'drained' | 'sidecar' | 'appPort' | 'appPorts' | 'workload' | 'restarting' | 'failure'>>): void {
    const inst = this.instances.get(id);
    if (!inst) return;
    let changed = false;
    for (const [k, v] of Object.entries(patch) as Array<[keyof Instance, unknown]>) {
      if (inst[k] !== v) {
        (inst as unknown as Record<string, unknown>)[k] = v;
        changed = true;
      }
    }
    if (changed) this.emit('change', id);
  }

  /** an endpoint receives mesh traffic when it runs, passes health checks and is not drained */
  static serving(i: Instance): boolean {
    return i.state === 'running' && i.healthy && !i.drained;
  }
}
