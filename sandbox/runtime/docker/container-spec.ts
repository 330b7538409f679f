/**
 * What a workload instance's container looks like (pure: no Docker calls).
 *
 * Networking:
 *   host    (Linux; the default there) the container shares the host's network, so the app
 *           listens on 127.0.0.1:<its port> and reaches its sidecar on 127.0.0.1: the addressing
 *           contract is unchanged and every byte stays on loopback.
 *   bridge  (Docker Desktop on macOS/Windows, where host networking does not reach the host) the
 *           app listens on 0.0.0.0:<its port> inside its own network namespace; that port is
 *           published on 127.0.0.1:<the same port> of the host (every port of a service with
 *           several), and 127.0.0.1 in the contract's URLs and addresses (HTTP_PROXY,
 *           <SERVICE>_URL, <SERVICE>_<PORT>_ADDR, ...) becomes host.docker.internal, mapped to the
 *           host gateway with `--add-host host.docker.internal:host-gateway`.
 *
 * Environment: the contract's variables (PORT, PORT_<NAME>, HOST, HTTP_PROXY, NO_PROXY,
 * <SERVICE>_URL, <SERVICE>_..._ADDR, MESHBOX_*) and the service's `env` from meshbox.yaml; unlike a process, a container does not
 * inherit meshbox's own environment (PATH, HOME, ... come from the image).
 */
import os from 'node:os';
import type Dockerode from 'dockerode';
import type { LaunchSpec } from '../runtime.js';

export type NetworkMode = 'host' | 'bridge';

export const LABEL = {
  sandbox: 'meshbox.sandbox',
  service: 'meshbox.service',
  version: 'meshbox.version',
  instance: 'meshbox.instance',
  workload: 'meshbox.workload',
  /** pid, process start time and host name of the meshbox that owns the container */
  ownerPid: 'meshbox.owner-pid',
  ownerStarted: 'meshbox.owner-started',
  ownerHost: 'meshbox.owner-host',
} as const;

export const DOCKER_HOST_GATEWAY = 'host.docker.internal';

const CONTRACT = new Set(['PORT', 'HOST', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']);
const LOOPBACK_URL = /^(https?:\/\/)(?:127\.0\.0\.1|localhost)(?=[:/]|$)/;
/** `<SERVICE>_..._ADDR=127.0.0.1:41240` */
const LOOPBACK_ADDR = /^(?:127\.0\.0\.1|localhost)(?=:\d+$)/;

/** the environment a container gets: the contract and the user's env, without meshbox's own */
export function containerEnv(spec: LaunchSpec, mode: NetworkMode): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.env)) {
    const contract =
      CONTRACT.has(k) || k.startsWith('MESHBOX_') || /^PORT_[A-Z0-9_]+$/.test(k) || (k.endsWith('_URL') && LOOPBACK_URL.test(v)) || (k.endsWith('_ADDR') && LOOPBACK_ADDR.test(v));
    if (contract || Object.hasOwn(spec.workload.env, k)) out[k] = v;
  }
  out.PORT = String(spec.port);
  if (mode === 'bridge') {
    for (const [k, v] of Object.entries(out)) {
      if (LOOPBACK_URL.test(v)) out[k] = v.replace(LOOPBACK_URL, `$1${DOCKER_HOST_GATEWAY}`);
      else if (k.endsWith('_ADDR') && LOOPBACK_ADDR.test(v)) out[k] = v.replace(LOOPBACK_ADDR, DOCKER_HOST_GATEWAY);
    }
    out.HOST = '0.0.0.0';
  }
  return out;
}

export function containerName(sandboxId: string, instanceId: string): string {
  return `meshbox-${sandboxId}-${instanceId}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

export interface Owner {
  pid: number;
  /** the process start time (Linux: clock ticks since boot from /proc; elsewhere the Date) */
  started: string;
  host: string;
}

export interface ContainerPlanInput {
  spec: LaunchSpec;
  sandboxId: string;
  image: string;
  cmd?: string[];
  /** replaces the image's ENTRYPOINT (and so its CMD, as Docker and Kubernetes do) */
  entrypoint?: string[];
  workingDir?: string;
  mode: NetworkMode;
  owner: Owner;
  /** run docker-init (tini) as PID 1, when the daemon has it */
  init: boolean;
}

export function containerLabels(spec: LaunchSpec, sandboxId: string, owner: Owner): Record<string, string> {
  return {
    [LABEL.sandbox]: sandboxId,
    [LABEL.service]: spec.workload.service,
    [LABEL.version]: spec.workload.version,
    [LABEL.instance]: spec.id,
    [LABEL.workload]: spec.workload.workload,
    [LABEL.ownerPid]: String(owner.pid),
    [LABEL.ownerStarted]: owner.started,
    [LABEL.ownerHost]: owner.host,
  };
}

export function containerCreateOptions(p: ContainerPlanInput): Dockerode.ContainerCreateOptions {
  const env = containerEnv(p.spec, p.mode);
  const ports = [...new Set([p.spec.port, ...(p.spec.ports ?? [])])];
  const bindings = Object.fromEntries(ports.map((n) => [`${n}/tcp`, [{ HostIp: '127.0.0.1', HostPort: String(n) }]]));
  const opts: Dockerode.ContainerCreateOptions = {
    name: containerName(p.sandboxId, p.spec.id),
    Image: p.image,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Labels: containerLabels(p.spec, p.sandboxId, p.owner),
    Hostname: p.mode === 'bridge' ? p.spec.id.slice(0, 63) : undefined,
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    StopSignal: 'SIGTERM',
    HostConfig: {
      NetworkMode: p.mode,
      Init: p.init,
      RestartPolicy: { Name: 'no' },
      AutoRemove: false,
      ...(p.mode === 'bridge'
        ? {
            PortBindings: bindings,
            ExtraHosts: [`${DOCKER_HOST_GATEWAY}:host-gateway`],
          }
        : {}),
    },
    ...(p.mode === 'bridge' ? { ExposedPorts: Object.fromEntries(ports.map((n) => [`${n}/tcp`, {}])) } : {}),
  };
  if (p.entrypoint) opts.Entrypoint = p.entrypoint;
  if (p.cmd) opts.Cmd = p.cmd;
  if (p.workingDir) opts.WorkingDir = p.workingDir;
  if (opts.Hostname === undefined) delete opts.Hostname;
  return opts;
}

export function defaultNetworkMode(operatingSystem: string, platform: NodeJS.Platform = process.platform): NetworkMode {
  return platform === 'linux' && !/docker desktop/i.test(operatingSystem) ? 'host' : 'bridge';
}

export function currentHostName(): string {
  return os.hostname();
}
