/**
 * The addressing contract between meshbox and an app: the environment every instance starts
 * with. The same app code works under every runtime, and unchanged in a cluster.
 *
 *   PORT, HOST              where the app must listen (its own loopback port)
 *   HTTP_PROXY, http_proxy  the instance's outbound sidecar as a forward proxy: send
 *   MESHBOX_OUTBOUND        `GET http://callme-service:8080/path` (absolute form, or any request
 *                           with `Host: callme-service:8080`) and the sidecar routes it by name
 *   NO_PROXY, no_proxy      localhost,127.0.0.1,::1 (so the per-service URLs below go direct)
 *   <SERVICE>_URL           one URL per mesh service, e.g. CALLME_SERVICE_URL=http://127.0.0.1:41234:
 *                           a sidecar listener bound to that service, for HTTP clients that
 *                           ignore HTTP_PROXY (Node's fetch and http do)
 *   MESHBOX_SANDBOX, MESHBOX_SERVICE, MESHBOX_VERSION, MESHBOX_WORKLOAD, MESHBOX_INSTANCE,
 *   MESHBOX_NAMESPACE, MESHBOX_SEED   who and where the instance is
 *
 * Precedence: the inherited environment < meshbox's variables < the service's `env` in
 * meshbox.yaml, except PORT, HOST and MESHBOX_* which meshbox always sets.
 */
import type { MeshDefinition } from '../config/mesh-types.js';
import type { Instance } from '../control/registry.js';

export function serviceUrlVariable(service: string): string {
  return `${service.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_URL`;
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
    if (port) env[serviceUrlVariable(svc.name)] = `http://127.0.0.1:${port}`;
  }
  Object.assign(env, inst.workload.env);
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
