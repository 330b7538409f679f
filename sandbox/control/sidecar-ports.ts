/**
 * The ports of one workload instance: where its app listens (one per service port) and where its
 * sidecar listens (an inbound listener per workload port, an outbound listener per port of every
 * service), under stable listener names:
 *
 *   <id>/inbound                 the first service port's inbound listener
 *   <id>/inbound/<port>          another service port's inbound listener
 *   <id>/outbound                the Host-routed HTTP listener (HTTP_PROXY)
 *   <id>/outbound/<svc>          bound to <svc>'s first port (<SVC>_URL)
 *   <id>/outbound/<svc>/<port>   bound to another port of <svc> (<SVC>_<PORTNAME>_ADDR)
 */
import type { MeshDefinition, ServiceSpec } from '../config/mesh-types.js';
import { portsOf } from '../config/service-ports.js';
import { allocatePort, releasePort } from '../runtime/ports.js';
import type { Instance } from './registry.js';

export function inboundListenerName(id: string, port: number, first: boolean): string {
  return first ? `${id}/inbound` : `${id}/inbound/${port}`;
}

export function serviceListenerName(id: string, service: string, port: number, first: boolean): string {
  return first ? `${id}/outbound/${service}` : `${id}/outbound/${service}/${port}`;
}

/** where the app listens for the service's port number `index` (0: the first, `PORT`) */
export function appPortOf(inst: Pick<Instance, 'appPort' | 'appPorts'>, index: number): number {
  return index === 0 ? inst.appPort : (inst.appPorts?.[index] ?? inst.appPort);
}

/** the sidecar's inbound listener for `servicePort` of its service (0 until bound) */
export function inboundPortOf(inst: Pick<Instance, 'sidecar'>, servicePort: number, first: boolean): number {
  return first ? inst.sidecar.inbound : (inst.sidecar.inboundPorts?.[servicePort] ?? 0);
}

/** the sidecar's outbound listener bound to `service`:`port` (0 until bound) */
export function serviceListenerPortOf(inst: Pick<Instance, 'sidecar'>, service: string, port: number, first: boolean): number {
  return first ? (inst.sidecar.services[service] ?? 0) : (inst.sidecar.servicePorts?.[`${service}:${port}`] ?? 0);
}

/** records the port of a bound sidecar listener on its instance (names as above; others are ignored) */
export function recordListenerPort(inst: Instance, name: string, port: number): void {
  const [, kind, a, b] = name.split('/');
  if (kind === 'inbound') {
    if (a === undefined) inst.sidecar.inbound = port;
    else inst.sidecar.inboundPorts = { ...inst.sidecar.inboundPorts, [a]: port };
  } else if (kind === 'outbound') {
    if (a === undefined) inst.sidecar.outbound = port;
    else if (b === undefined) inst.sidecar.services[a] = port;
    else inst.sidecar.servicePorts = { ...inst.sidecar.servicePorts, [`${a}:${b}`]: port };
  }
}

/** records every bound listener on the instance it belongs to */
export function recordListenerPorts(bound: ReadonlyArray<{ name: string; port: number }>, instance: (id: string) => Instance | undefined): void {
  for (const b of bound) {
    const inst = instance(b.name.split('/')[0]!);
    if (inst) recordListenerPort(inst, b.name, b.port);
  }
}

/** the service an instance belongs to */
export function serviceOf(mesh: MeshDefinition, inst: Pick<Instance, 'workload'>): ServiceSpec | undefined {
  return mesh.services.find((s) => s.name === inst.workload.service);
}

/** free loopback ports for the app: one per service port (the first is `appPort`) */
export async function allocateAppPorts(svc: ServiceSpec | undefined): Promise<Pick<Instance, 'appPort' | 'appPorts'>> {
  const ports = svc ? portsOf(svc) : [];
  const appPort = await allocatePort();
  if (ports.length <= 1) return { appPort };
  const appPorts = [appPort];
  for (let i = 1; i < ports.length; i++) appPorts.push(await allocatePort());
  return { appPort, appPorts };
}

export function releaseAppPorts(inst: Pick<Instance, 'appPort' | 'appPorts'>): void {
  releasePort(inst.appPort);
  for (const p of inst.appPorts ?? []) if (p !== inst.appPort) releasePort(p);
}
