/**
 * Docker runtime (dockerode): each workload instance is a container, wrapped by the same sidecars
 * as a process; the control plane, health checks and events cannot tell the difference.
 *
 *   start    image (local, built offline, or pulled with --pull; see docker/images.ts) -> create
 *            (labels meshbox.sandbox/service/version/instance, host networking on Linux) ->
 *            attach (stdout/stderr demultiplexed into `log` events) -> wait registered -> start
 *   exit     the wait returns: `exit` with expected=false unless meshbox asked (stop), so the
 *            WorkloadManager restarts a crashed container with back-off; the container is removed
 *            (a restart creates a fresh one with the same name)
 *   stop     docker stop (SIGTERM, SIGKILL after the grace period), then remove
 *   signal   docker kill -s <signal>;  pause / resume: docker pause / unpause (cgroup freezer)
 *   cleanup  stopAll removes every container of the sandbox; a watchdog process removes them if
 *            meshbox dies without a chance to (kill -9); containers of dead sandboxes are removed
 *            when the runtime starts
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import type Dockerode from 'dockerode';
import { MeshError } from '../errors.js';
import type { MeshEvent } from '../events.js';
import { containerCreateOptions, containerName, defaultNetworkMode, type NetworkMode } from './docker/container-spec.js';
import { connectDocker, dockerEndpoint, dockerMessage, statusCodeOf, type DockerEndpoint } from './docker/daemon.js';
import { ImageManager } from './docker/images.js';
import { currentOwner, removeDeadSandboxContainers, removeSandboxContainers } from './docker/leftovers.js';
import { LogDemuxer } from './docker/log-demux.js';
import { startWatchdog, type Watchdog } from './docker/watchdog.js';
import { isPortOpen } from './ports.js';
import { permanentFailure, type LaunchSpec, type Runtime, type RuntimeExit } from './runtime.js';

export type DockerNetworkChoice = 'auto' | NetworkMode;

export interface DockerRuntimeOptions {
  /** pull images that are not present locally (off by default: no registry is assumed) */
  pull?: boolean;
  network?: DockerNetworkChoice;
  /** image build progress and notices */
  onEvent?: (e: MeshEvent) => void;
  endpoint?: DockerEndpoint;
  /** run the watchdog that removes the containers if meshbox dies (default on) */
  watchdog?: boolean;
}

interface Box {
  id: string;
  name: string;
  container: Dockerode.Container;
  expectedExit: boolean;
  paused: boolean;
  /** resolves once the container exited and was removed */
  exited: Promise<void>;
}

const SIGNALS = os.constants.signals as Record<string, number>;

/** a container's exit status as a process's: 128+n is "killed by signal n" */
export function exitOf(statusCode: number | null): { code: number | null; signal: string | null } {
  if (statusCode !== null && statusCode > 128) {
    const name = Object.keys(SIGNALS).find((k) => SIGNALS[k] === statusCode - 128);
    if (name) return { code: null, signal: name };
  }
  return { code: statusCode, signal: null };
}

function ignore404(e: unknown): void {
  const status = statusCodeOf(e);
  if (status === 404 || status === 304) return;
  if (/already in progress|is not running|is not paused|No such container/i.test(dockerMessage(e))) return;
  throw e;
}

export class DockerRuntime extends EventEmitter implements Runtime {
  readonly name = 'docker' as const;
  readonly images: ImageManager;
  private readonly boxes = new Map<string, Box>();
  private readonly starting = new Map<string, Promise<unknown>>();
  private readonly removals = new Map<string, Promise<void>>();
  private sandboxId: string | undefined;
  private watchdog: Watchdog | undefined;
  private closing = false;

  private constructor(
    readonly docker: Dockerode,
    readonly endpoint: DockerEndpoint,
    readonly network: NetworkMode,
    private readonly init: boolean,
    private readonly opts: DockerRuntimeOptions,
    info: { os: string; arch: string },
  ) {
    super();
    this.images = new ImageManager(docker, {
      pull: opts.pull ?? false,
      daemonOs: info.os,
      daemonArch: info.arch,
      buildNetwork: network === 'host' ? 'host' : undefined,
      report: (phase, image, message, durationMs) =>
        opts.onEvent?.({ type: 'mesh:image:build', time: Date.now(), image, phase, message, ...(durationMs !== undefined ? { durationMs } : {}) }),
    });
  }

  /**
   * Connects to the daemon (the caller probed it already), picks the network mode and removes the
   * containers of dead sandboxes, saying so.
   */
  static async connect(opts: DockerRuntimeOptions = {}): Promise<DockerRuntime> {
    const endpoint = opts.endpoint ?? dockerEndpoint();
    const docker = await connectDocker(endpoint);
    const sweep = removeDeadSandboxContainers(docker).catch((e: unknown) => {
      throw new MeshError('MESH_ERR_DOCKER', ['list or remove leftover containers', dockerMessage(e)]);
    });
    let info: { OperatingSystem?: string; OSType?: string; Architecture?: string; InitBinary?: string };
    try {
      info = (await docker.info()) as typeof info;
    } catch (e) {
      sweep.catch(() => undefined);
      throw new MeshError('MESH_ERR_DOCKER_UNAVAILABLE', [endpoint.description, dockerMessage(e)]);
    }
    const network = !opts.network || opts.network === 'auto' ? defaultNetworkMode(info.OperatingSystem ?? '') : opts.network;
    const notice = (level: 'info' | 'warn', message: string, hint?: string): void =>
      opts.onEvent?.({ type: 'mesh:notice', time: Date.now(), level, message, ...(hint ? { hint } : {}) });
    if (network === 'bridge' && process.platform === 'linux' && !/docker desktop/i.test(info.OperatingSystem ?? '')) {
      notice('warn', 'bridge networking on a Linux Docker engine: containers reach the sidecars through the host gateway, which does not forward to 127.0.0.1', 'use --docker-network host (the default on Linux); bridge mode is meant for Docker Desktop');
    }
    const runtime = new DockerRuntime(docker, endpoint, network, Boolean(info.InitBinary), opts, { os: info.OSType ?? 'linux', arch: info.Architecture ?? '' });
    for (const r of await sweep) {
      notice('warn', `sandbox ${r.sandbox} was left behind by a meshbox that died${r.ownerPid ? ` (pid ${r.ownerPid})` : ''}: removed its containers ${r.containers.join(', ')}`);
    }
    return runtime;
  }

  private fail(spec: LaunchSpec, reason: string, hint?: string): MeshError {
    return new MeshError('MESH_ERR_WORKLOAD_START', [spec.id, reason], hint ? { hint } : {});
  }

  async start(spec: LaunchSpec): Promise<{ pid?: number }> {
    if (this.closing) throw this.fail(spec, 'the sandbox is stopping');
    if (this.boxes.has(spec.id) || this.starting.has(spec.id)) throw this.fail(spec, 'already running');
    this.sandboxId ??= spec.env.MESHBOX_SANDBOX ?? `pid${process.pid}`;
    if (!this.watchdog && this.opts.watchdog !== false) this.watchdog = startWatchdog(this.sandboxId);
    const task = this.launch(spec);
    this.starting.set(spec.id, task);
    try {
      return await task;
    } finally {
      this.starting.delete(spec.id);
    }
  }

  private async launch(spec: LaunchSpec): Promise<{ pid?: number }> {
    const resolved = await this.images.resolve(spec.workload);
    if (this.closing) throw this.fail(spec, 'the sandbox is stopping');
    const name = containerName(this.sandboxId!, spec.id);
    await this.removals.get(spec.id);
    // a container of the same name (a restart racing a removal, or an earlier failed start)
    await this.docker.getContainer(name).remove({ force: true }).catch(ignore404);
    if (this.network === 'host' && (await isPortOpen(spec.port))) {
      throw new MeshError('MESH_ERR_PORT_IN_USE', [`workload ${spec.id}`, `127.0.0.1:${spec.port}`, ''], {
        hint: `stop whatever listens on 127.0.0.1:${spec.port} (\`ss -ltnp\` shows it); meshbox picked the port as free a moment ago, so starting again picks another`,
      });
    }
    const createOptions = containerCreateOptions({
      spec,
      sandboxId: this.sandboxId!,
      image: resolved.image,
      cmd: resolved.cmd,
      entrypoint: resolved.entrypoint,
      workingDir: resolved.workingDir,
      mode: this.network,
      owner: currentOwner(),
      init: this.init,
    });
    let container: Dockerode.Container;
    try {
      container = await this.docker.createContainer(createOptions);
    } catch (e) {
      if (statusCodeOf(e) === 404) throw new MeshError('MESH_ERR_IMAGE_MISSING', [resolved.image]);
      throw this.fail(spec, `Docker could not create the container: ${dockerMessage(e)}`);
    }
    const abort = new AbortController();
    let logs: NodeJS.ReadableStream | undefined;
    try {
      logs = await container.attach({ stream: true, stdout: true, stderr: true, logs: false, abortSignal: abort.signal } as Dockerode.ContainerAttachOptions);
      const demux = new LogDemuxer((stream, line) => this.emit('log', { id: spec.id, stream, line }));
      logs.on('data', (c: Buffer) => demux.push(c));
      logs.on('end', () => demux.end());
      logs.on('error', () => demux.end());
      const waiting = await this.waitRegistered(container, abort.signal);
      let resolveExited!: () => void;
      const box: Box = { id: spec.id, name, container, expectedExit: false, paused: false, exited: new Promise((r) => (resolveExited = r)) };
      // the container may die before the start call returns: its exit is handled after
      let started = false;
      let early: { status: number | null } | undefined;
      void waiting.exit.then((status) => {
        if (started) this.onExit(box, status, resolveExited);
        else early = { status };
      });
      this.boxes.set(spec.id, box);
      try {
        await container.start();
      } catch (e) {
        this.boxes.delete(spec.id);
        throw this.startError(spec, e);
      }
      started = true;
      if (early) this.onExit(box, early.status, resolveExited);
      let pid: number | undefined;
      let running = true;
      try {
        const info = await container.inspect();
        pid = info.State?.Pid || undefined;
        running = info.State?.Running !== false;
      } catch {
        // removed already by a racing exit
        running = false;
      }
      // it died already (a command that cannot run): its exit is handled before start returns, so
      // the caller does not report a start (with no pid) after it
      if (!running) await waiting.exit;
      return { pid: running ? pid : undefined };
    } catch (e) {
      abort.abort();
      logs?.removeAllListeners('data');
      await container.remove({ force: true }).catch(() => undefined);
      throw e;
    }
  }

  private startError(spec: LaunchSpec, e: unknown): MeshError {
    const msg = dockerMessage(e);
    const port = /(?:127\.0\.0\.1|0\.0\.0\.0):(\d+)/.exec(msg)?.[1] ?? String(spec.port);
    if (/port is already allocated|address already in use/i.test(msg)) {
      return new MeshError('MESH_ERR_PORT_IN_USE', [`workload ${spec.id}`, `127.0.0.1:${port}`, ''], {
        hint: `stop whatever listens on 127.0.0.1:${port} (\`ss -ltnp\`, \`docker ps\` show it) and start again`,
      });
    }
    if (/executable file not found|no such file or directory/i.test(msg)) {
      // the same image runs the same command on the next try: not retried
      return permanentFailure(this.fail(spec, `the container's command cannot run: ${msg}`, "check `command` in meshbox.yaml (in a container it runs inside the image), or the image's CMD"));
    }
    return this.fail(spec, `Docker could not start the container: ${msg}`);
  }

  /**
   * POST /containers/{id}/wait?condition=next-exit, resolved once the daemon has registered the
   * wait (it sends the headers then), so an exit right after start is never missed. The returned
   * promise gives the exit status (null if the daemon went away).
   */
  private waitRegistered(container: Dockerode.Container, signal: AbortSignal): Promise<{ exit: Promise<number | null> }> {
    return new Promise((resolveRegistered, rejectRegistered) => {
      this.docker.modem.dial(
        {
          path: `/containers/${container.id}/wait?`,
          method: 'POST',
          options: { condition: 'next-exit' },
          isStream: true,
          abortSignal: signal,
          statusCodes: { 200: true, 400: 'bad parameter', 404: 'no such container', 500: 'server error' },
        } as unknown as Parameters<Dockerode['modem']['dial']>[0],
        (err: unknown, res: unknown) => {
          if (err) {
            rejectRegistered(new MeshError('MESH_ERR_DOCKER', ['watch the container', dockerMessage(err)]));
            return;
          }
          const stream = res as NodeJS.ReadableStream;
          resolveRegistered({
            exit: new Promise<number | null>((resolve) => {
              let body = '';
              stream.on('data', (c: Buffer) => (body += c.toString('utf8')));
              stream.on('end', () => {
                try {
                  const parsed = JSON.parse(body) as { StatusCode?: number };
                  resolve(typeof parsed.StatusCode === 'number' ? parsed.StatusCode : null);
                } catch {
                  resolve(null);
                }
              });
              stream.on('error', () => resolve(null));
            }),
          });
        },
      );
    });
  }

  private onExit(box: Box, status: number | null, resolveExited: () => void): void {
    if (this.boxes.get(box.id) === box) this.boxes.delete(box.id);
    const { code, signal } = exitOf(status);
    const exit: RuntimeExit = { id: box.id, code, signal, expected: box.expectedExit };
    const removal = box.container
      .remove({ force: true, v: true })
      .catch(() => undefined)
      .then(() => {
        if (this.removals.get(box.id) === removal) this.removals.delete(box.id);
        resolveExited();
      });
    this.removals.set(box.id, removal);
    this.emit('exit', exit);
  }

  private box(id: string): Box {
    const box = this.boxes.get(id);
    if (!box) throw new MeshError('MESH_ERR_USAGE', [`instance ${id} is not running`]);
    return box;
  }

  async stop(id: string, graceMs: number): Promise<void> {
    await this.starting.get(id)?.catch(() => undefined);
    const box = this.boxes.get(id);
    if (!box) {
      await this.removals.get(id);
      return;
    }
    box.expectedExit = true;
    if (box.paused) {
      await box.container.unpause().catch(ignore404);
      box.paused = false;
    }
    const t = Math.max(0, Math.ceil(graceMs / 1000));
    try {
      await box.container.stop({ t });
    } catch (e) {
      try {
        ignore404(e);
      } catch {
        await box.container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
      }
    }
    // the daemon answered; the wait (and the removal) follow within moments
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      box.exited,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => void box.container.remove({ force: true }).catch(() => undefined).then(resolve), graceMs + 10_000);
      }),
    ]);
    clearTimeout(timer);
  }

  async signal(id: string, signal: NodeJS.Signals): Promise<void> {
    const box = this.box(id);
    if (box.paused && signal !== 'SIGKILL') {
      await box.container.unpause().catch(ignore404);
      box.paused = false;
    }
    try {
      await box.container.kill({ signal });
    } catch (e) {
      if (/is paused/i.test(dockerMessage(e))) {
        await box.container.unpause().catch(ignore404);
        box.paused = false;
        await box.container.kill({ signal });
        return;
      }
      if (/is not running/i.test(dockerMessage(e)) || statusCodeOf(e) === 404) throw new MeshError('MESH_ERR_USAGE', [`instance ${id} is not running`]);
      throw new MeshError('MESH_ERR_DOCKER', [`send ${signal} to ${box.name}`, dockerMessage(e)]);
    }
  }

  async pause(id: string): Promise<void> {
    const box = this.box(id);
    try {
      await box.container.pause();
    } catch (e) {
      if (!/already paused/i.test(dockerMessage(e))) throw new MeshError('MESH_ERR_DOCKER', [`pause ${box.name}`, dockerMessage(e)]);
    }
    box.paused = true;
  }

  async resume(id: string): Promise<void> {
    const box = this.box(id);
    try {
      await box.container.unpause();
    } catch (e) {
      if (!/is not paused/i.test(dockerMessage(e))) throw new MeshError('MESH_ERR_DOCKER', [`unpause ${box.name}`, dockerMessage(e)]);
    }
    box.paused = false;
  }

  isRunning(id: string): boolean {
    return this.boxes.has(id);
  }

  /** the container name of an instance (for `docker logs`, and tests) */
  containerName(id: string): string | undefined {
    return this.sandboxId ? containerName(this.sandboxId, id) : undefined;
  }

  async stopAll(graceMs: number): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.starting.values()]);
    await Promise.all([...this.boxes.keys()].map((id) => this.stop(id, graceMs)));
    await Promise.all([...this.removals.values()]);
    if (this.sandboxId) {
      try {
        await removeSandboxContainers(this.docker, this.sandboxId);
      } catch (e) {
        // keep the watchdog: it removes them once this meshbox exits (the pipe closes)
        this.opts.onEvent?.({
          type: 'mesh:notice',
          time: Date.now(),
          level: 'error',
          message: `could not remove the containers of sandbox ${this.sandboxId}: ${dockerMessage(e)}`,
          hint: `the watchdog${this.watchdog?.pid ? ` (pid ${this.watchdog.pid})` : ''} removes them when meshbox exits; \`docker ps -a --filter label=meshbox.sandbox=${this.sandboxId}\` lists what is left, \`meshbox down --all\` removes it`,
        });
        return;
      }
    }
    this.watchdog?.release();
    this.watchdog = undefined;
  }
}
