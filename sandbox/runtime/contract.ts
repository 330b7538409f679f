/**
 * The addressing contract between meshbox and an app: the environment every instance starts
 * with. The same app code works under every runtime, and unchanged in a cluster.
 *
 *   PORT, HOST              where the app must listen (its own loopback port; the service's first port)
 *   PORT_<NAME>             one more per named service port (`ports: [{name: grpc-api, ...}]`:
 *                           PORT_GRPC_API): the app listens on each; the first named port's
 *                           equals PORT
 *   HTTP_PROXY, http_proxy  the instance's outbound sidecar as a forward proxy: send
 *   MESHBOX_OUTBOUND        `GET http://callme-service:8080/path` (absolute form, or any request
 *                           with `Host: callme-service:8080`) and the sidecar routes it by name
 *   NO_PROXY, no_proxy      localhost,127.0.0.1,::1 (so the per-service URLs below go direct)
 *   <SERVICE>_URL           one URL per mesh service, e.g. CALLME_SERVICE_URL=http://127.0.0.1:41234:
 *                           a sidecar listener bound to that service, for HTTP clients that
 *                           ignore HTTP_PROXY (Node's fetch and http do); bound to the service's
 *                           first port
 *   <SERVICE>_ADDR          the same listener as host:port (127.0.0.1:41234), for TCP clients
 *   <SERVICE>_<PORT>_ADDR   one per named port of every service, e.g. DB_TCP_PG_ADDR=127.0.0.1:41240:
 *                           a sidecar listener bound to that service port (TCP, gRPC, ... clients
 *                           connect there); <SERVICE>_<PORT>_URL=http://... too for HTTP-family
 *                           ports (http, http2, grpc, grpc-web)
 *   MESHBOX_SANDBOX, MESHBOX_SERVICE, MESHBOX_VERSION, MESHBOX_WORKLOAD, MESHBOX_INSTANCE,
 *   MESHBOX_NAMESPACE, MESHBOX_SEED   who and where the instance is
 *
 * Precedence: the inherited environment < meshbox's variables < the service's `env` in
 * meshbox.yaml, except PORT, PORT_<NAME>, HOST and MESHBOX_* which meshbox always sets.
 */
import type { MeshDefinition } from '../config/mesh-types.js';
import type { Instance } from '../control/registry.js';
import { appPortOf, serviceListenerPortOf } from '../control/sidecar-ports.js';
import { envName, isHttpPort, portsOf, portVariable } from '../config/service-ports.js';

export function serviceUrlVariable(service: string): string {
  return `${envName(service)}_URL`;
}

/** `<SERVICE>_<PORTNAME>_ADDR` (or `_URL`) of a named port */
export function servicePortVariable(service: string, portName: string, suffix: 'ADDR' | 'URL'): string {
  return `${envName(service)}_${envName(portName)}_${suffix}`;
}

export function instanceEnv(
  mesh: MeshDefinition,
  inst: Instance,
  sandboxId: string,
  seed: number,
  inherited: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const outbound = `http://127.0.0.1:${inst.sidecar.outbound}`;
  const env: Record<string, string> = {};
  // never the admin token a user set for the CLI: apps must not drive the sandbox
  for (const [k, v] of Object.entries(inherited)) if (v !== undefined && !k.startsWith('npm_') && k !== 'MESHBOX_ADMIN_TOKEN') env[k] = v;
  Object.assign(env, {
    HTTP_PROXY: outbound,
    http_proxy: outbound,
    MESHBOX_OUTBOUND: outbound,
    NO_PROXY: 'localhost,127.0.0.1,::1',
    no_proxy: 'localhost,127.0.0.1,::1',
  });
  for (const svc of mesh.services) {
    const port = inst.sidecar.services[svc.name];
    if (port) {
      env[serviceUrlVariable(svc.name)] = `http://127.0.0.1:${port}`;
      env[`${envName(svc.name)}_ADDR`] = `127.0.0.1:${port}`;
    }
    portsOf(svc).forEach((p, i) => {
      if (!p.name) return;
      const listener = serviceListenerPortOf(inst, svc.name, p.port, i === 0);
      if (!listener) return;
      env[servicePortVariable(svc.name, p.name, 'ADDR')] = `127.0.0.1:${listener}`;
      if (isHttpPort(p)) env[servicePortVariable(svc.name, p.name, 'URL')] = `http://127.0.0.1:${listener}`;
    });
  }
  Object.assign(env, inst.workload.env);
  const own = mesh.services.find((s) => s.name === inst.workload.service);
  for (const [i, p] of (own ? portsOf(own) : []).entries()) {
    if (p.name) env[portVariable(p.name)] = String(appPortOf(inst, i));
  }
  Object.assign(env, {
    PORT: String(inst.appPort),
    HOST: '127.0.0.1',
    MESHBOX_SANDBOX: sandboxId,
    MESHBOX_SERVICE: inst.workload.service,
    MESHBOX_VERSION: inst.workload.version,
    MESHBOX_WORKLOAD: inst.workload.workload,
    MESHBOX_INSTANCE: inst.id,
    MESHBOX_NAMESPACE: mesh.namespace,
    MESHBOX_SEED: String((seed + inst.ordinal * 7919 + hash(inst.workload.workload)) >>> 0),
  });
  return env;
}

function hash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) >>> 0;
  return h;
}
