/**
 * Where the Docker daemon is, whether it answers, and why not. The probe is a bare HTTP request
 * (no dockerode), so `--runtime auto` on a machine without Docker costs a few milliseconds.
 *
 *   DOCKER_HOST unset        unix:///var/run/docker.sock (Docker Desktop on macOS: also
 *                            ~/.docker/run/docker.sock), npipe on Windows
 *   DOCKER_HOST=unix://PATH  that socket
 *   DOCKER_HOST=tcp://H:P    plain HTTP, or TLS when DOCKER_TLS_VERIFY is set (probed through
 *                            dockerode, which reads DOCKER_CERT_PATH)
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type Dockerode from 'dockerode';
import { MeshError } from '../../errors.js';

export interface DockerEndpoint {
  /** how the user would write it: `unix:///var/run/docker.sock`, `tcp://127.0.0.1:2375` */
  description: string;
  socketPath?: string;
  host?: string;
  port?: number;
  tls: boolean;
}

export type DaemonProbe =
  | { ok: true; endpoint: DockerEndpoint; apiVersion?: string }
  | { ok: false; endpoint: DockerEndpoint; kind: 'unreachable' | 'permission' | 'error'; reason: string };

export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): DockerEndpoint {
  const host = env.DOCKER_HOST?.trim();
  if (!host) {
    if (process.platform === 'win32') return { description: 'npipe:////./pipe/docker_engine', socketPath: '//./pipe/docker_engine', tls: false };
    const standard = '/var/run/docker.sock';
    const desktop = path.join(os.homedir(), '.docker', 'run', 'docker.sock');
    const socketPath = !existsSync(standard) && existsSync(desktop) ? desktop : standard;
    return { description: `unix://${socketPath}`, socketPath, tls: false };
  }
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length);
    return { description: host, socketPath, tls: false };
  }
  if (host.startsWith('npipe://')) return { description: host, socketPath: host.slice('npipe:'.length).replace(/\//g, '\\'), tls: false };
  const m = /^(?:tcp|http|https):\/\/\[?([^\]/]+?)\]?(?::(\d+))?\/?$/.exec(host);
  if (m) {
    const tls = host.startsWith('https://') || (env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '' && env.DOCKER_TLS_VERIFY !== '0');
    return { description: host, host: m[1], port: Number(m[2] ?? (tls ? 2376 : 2375)), tls };
  }
  return { description: host, tls: false };
}

/** what a failed connection means for the user */
export function classifyConnectError(e: unknown): { kind: 'unreachable' | 'permission' | 'error'; reason: string } {
  const err = e as NodeJS.ErrnoException & { statusCode?: number; json?: { message?: string } };
  const code = err?.code;
  if (code === 'EACCES' || code === 'EPERM') return { kind: 'permission', reason: `${code}: permission denied` };
  if (code === 'ENOENT') return { kind: 'unreachable', reason: 'ENOENT: the socket does not exist' };
  if (code === 'ECONNREFUSED') return { kind: 'unreachable', reason: 'ECONNREFUSED: nothing listens there' };
  if (code && /^(ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|ENOTSOCK)$/.test(code)) return { kind: 'unreachable', reason: code };
  if (err?.message === 'timeout') return { kind: 'unreachable', reason: 'no answer in time' };
  if (err?.statusCode) return { kind: 'error', reason: `HTTP ${err.statusCode} ${err.json?.message ?? err.message ?? ''}`.trim() };
  return { kind: 'error', reason: err?.message ?? String(e) };
}

/** one GET /_ping; resolves, never rejects */
export function probeDaemon(endpoint: DockerEndpoint = dockerEndpoint(), timeoutMs = 2_000): Promise<DaemonProbe> {
  if (endpoint.tls) return probeWithDockerode(endpoint, timeoutMs);
  if (!endpoint.socketPath && !endpoint.host) {
    return Promise.resolve({ ok: false, endpoint, kind: 'error', reason: `DOCKER_HOST=${endpoint.description} is not a unix://, npipe:// or tcp:// address` });
  }
  return new Promise((resolve) => {
    const req = http.request(
      {
        socketPath: endpoint.socketPath,
        host: endpoint.host,
        port: endpoint.port,
        path: '/_ping',
        method: 'GET',
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8').trim();
          if (res.statusCode === 200) resolve({ ok: true, endpoint, apiVersion: res.headers['api-version'] as string | undefined });
          else resolve({ ok: false, endpoint, kind: 'error', reason: `the daemon answered HTTP ${res.statusCode}${body ? `: ${body.slice(0, 200)}` : ''}` });
        });
        res.on('error', (e) => resolve({ ok: false, endpoint, ...classifyConnectError(e) }));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e) => resolve({ ok: false, endpoint, ...classifyConnectError(e) }));
    req.end();
  });
}

async function probeWithDockerode(endpoint: DockerEndpoint, timeoutMs: number): Promise<DaemonProbe> {
  const docker = await connectDocker(endpoint, timeoutMs);
  try {
    await docker.ping();
    return { ok: true, endpoint };
  } catch (e) {
    return { ok: false, endpoint, ...classifyConnectError(e) };
  }
}

/** the MeshError a failed probe stands for */
export function daemonError(probe: Extract<DaemonProbe, { ok: false }>): MeshError {
  if (probe.kind === 'permission') return new MeshError('MESH_ERR_DOCKER_PERMISSION', [probe.endpoint.description]);
  return new MeshError('MESH_ERR_DOCKER_UNAVAILABLE', [probe.endpoint.description, probe.reason]);
}

/** a dockerode client for the endpoint (loaded on demand: the process runtime never pays for it) */
export async function connectDocker(endpoint: DockerEndpoint = dockerEndpoint(), timeoutMs?: number): Promise<Dockerode> {
  const { default: Docker } = await import('dockerode');
  if (endpoint.tls) return new Docker(timeoutMs ? { timeout: timeoutMs } : undefined);
  if (endpoint.socketPath) return new Docker({ socketPath: endpoint.socketPath, ...(timeoutMs ? { timeout: timeoutMs } : {}) });
  return new Docker({ host: endpoint.host, port: endpoint.port, protocol: 'http', ...(timeoutMs ? { timeout: timeoutMs } : {}) });
}

/** the message of a dockerode error: the daemon's own words when it gave some */
export function dockerMessage(e: unknown): string {
  const err = e as { json?: { message?: string } | string | Buffer; reason?: string; message?: string; statusCode?: number };
  if (err?.json && typeof err.json === 'object' && !Buffer.isBuffer(err.json) && err.json.message) return err.json.message;
  if (typeof err?.json === 'string' && err.json) return err.json.trim();
  if (Buffer.isBuffer(err?.json)) {
    const text = err.json.toString('utf8').trim();
    try {
      const parsed = JSON.parse(text) as { message?: string };
      if (parsed.message) return parsed.message;
    } catch {
      // not JSON
    }
    if (text) return text;
  }
  return (err?.message ?? String(e)).replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

export function statusCodeOf(e: unknown): number | undefined {
  return (e as { statusCode?: number })?.statusCode;
}
