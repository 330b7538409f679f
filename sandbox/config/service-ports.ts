/**
 * A service's ports, the way a Kubernetes Service declares them, and the names apps learn them by.
 *
 *   meshbox.yaml `port: 8080`            one unnamed port: detected per connection (Istio's
 *                                          protocol sniffing; HTTP traffic on it is served as HTTP)
 *   `ports: [{name: grpc-api, port: 9090, targetPort?, appProtocol?}]`   several, each selected by
 *                                          appProtocol, else its name's prefix, else detected
 *
 * The app listens on `PORT` (the first port) and `PORT_<NAME>` for each named port (the name
 * upper-cased, every other character than A-Z and 0-9 as `_`: `grpc-api` -> `PORT_GRPC_API`).
 */
import { codecOf, selectProtocol } from './protocol-selection.js';
import type { ServicePortSpec, ServiceSpec } from './mesh-types.js';

/** every port of a service, the first one `svc.port` */
export function portsOf(svc: Pick<ServiceSpec, 'port' | 'protocol' | 'ports'>): ServicePortSpec[] {
  if (svc.ports && svc.ports.length > 0) return svc.ports;
  return [{ port: svc.port, protocol: svc.protocol, protocolSource: svc.protocol === 'unknown' ? 'unnamed port: detected per connection (HTTP/1.x, HTTP/2, else TCP)' : `protocol ${svc.protocol}` }];
}

/** one Service port as written (meshbox.yaml `ports:` or a Kubernetes Service), with its protocol selected */
export function servicePort(p: { name?: string; port: number; targetPort?: number; appProtocol?: string }): ServicePortSpec {
  const selected = selectProtocol({ name: p.name, appProtocol: p.appProtocol });
  return {
    ...(p.name ? { name: p.name } : {}),
    port: p.port,
    ...(p.targetPort !== undefined ? { targetPort: p.targetPort } : {}),
    ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    protocol: selected.protocol,
    protocolSource: selected.source,
  };
}

/** `grpc-api` -> `GRPC_API` (environment variable names) */
export function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9]+/g, '_');
}

/** the variable that tells the app where to listen for a named port: `PORT_GRPC_API` */
export function portVariable(portName: string): string {
  return `PORT_${envName(portName)}`;
}

/** is the port served by the HTTP connection manager (http, http2, grpc, grpc-web)? */
export function isHttpPort(p: Pick<ServicePortSpec, 'protocol'>): boolean {
  return codecOf(p.protocol) === 'http';
}

/** is the port served by the TCP proxy (tcp, tls, https, mongo, mysql, redis)? */
export function isTcpPort(p: Pick<ServicePortSpec, 'protocol'>): boolean {
  return codecOf(p.protocol) === 'tcp';
}

/** the port of `svc` with this number, if it has one */
export function portNumbered(svc: Pick<ServiceSpec, 'port' | 'protocol' | 'ports'>, port: number): ServicePortSpec | undefined {
  return portsOf(svc).find((p) => p.port === port);
}
