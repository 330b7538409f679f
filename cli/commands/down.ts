/**
 * `meshbox down`: stops a running sandbox from another terminal, as Ctrl-C in its own would.
 *
 * The sandbox is found by its on-disk record (sandbox-state.ts): its meshbox gets SIGTERM and
 * stops its workloads (containers or processes) and listeners itself. If it has not exited within
 * the timeout it is killed, and what it left is removed here: its processes by pid, its containers
 * by label. Leftovers of sandboxes whose meshbox already died are cleaned up as well.
 */
import { readFileSync } from 'node:fs';
import { MeshError } from '../../sandbox/errors.js';
import { connectDocker, dockerEndpoint, probeDaemon } from '../../sandbox/runtime/docker/daemon.js';
import { removeDeadSandboxContainers, removeSandboxContainers } from '../../sandbox/runtime/docker/leftovers.js';
import { isAlive, listSandboxes, reapLeftovers, type SandboxRecord } from '../../sandbox/runtime/sandbox-state.js';
import { paint, useColor, type Io } from '../output.js';

export interface DownOptions {
  sandbox?: string;
  all?: boolean;
  /** ms to wait for a clean stop */
  timeout?: number;
}

/** true when pid runs the meshbox CLI (Linux: by its command line); elsewhere trust the record */
function isMeshboxCli(pid: number): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return process.platform !== 'linux';
  }
  return argv.some((a) => /(^|[\\/])meshbox$/.test(a) || /cli[\\/]main\.js$/.test(a));
}

async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !isAlive(pid);
}

async function dockerIfAnswering(): Promise<Awaited<ReturnType<typeof connectDocker>> | undefined> {
  const endpoint = dockerEndpoint();
  const probe = await probeDaemon(endpoint, 1_500);
  return probe.ok ? connectDocker(endpoint) : undefined;
}

export async function runDown(opts: DownOptions, io: Io): Promise<number> {
  const c = paint(useColor());
  const records = listSandboxes().filter((r) => r.ownerPid !== process.pid && isAlive(r.ownerPid));
  const running = records.filter((r) => isMeshboxCli(r.ownerPid));
  let targets: SandboxRecord[];
  if (opts.sandbox) {
    targets = running.filter((r) => r.id === opts.sandbox);
    if (targets.length === 0) {
      const other = records.find((r) => r.id === opts.sandbox);
      throw new MeshError('MESH_ERR_USAGE', [other ? `sandbox ${opts.sandbox} was not started by the meshbox CLI (pid ${other.ownerPid}); stop it where it runs` : `no running sandbox ${opts.sandbox}`], {
        hint: running.length ? `running: ${running.map((r) => r.id).join(', ')}` : 'no sandbox is running (`meshbox up` starts one)',
      });
    }
  } else if (opts.all || running.length <= 1) {
    targets = running;
  } else {
    throw new MeshError('MESH_ERR_USAGE', [`${running.length} sandboxes are running: ${running.map((r) => `${r.id} (pid ${r.ownerPid}, admin ${r.adminUrl ?? '?'})`).join(', ')}`], {
      hint: 'choose one with --sandbox <id>, or stop them all with --all',
    });
  }

  const timeoutMs = opts.timeout ?? 30_000;
  let docker: Awaited<ReturnType<typeof dockerIfAnswering>> | null = null;
  const getDocker = async (): Promise<Awaited<ReturnType<typeof dockerIfAnswering>>> => {
    if (docker === null) docker = await dockerIfAnswering().catch(() => undefined);
    return docker;
  };

  await Promise.all(
    targets.map(async (r) => {
      io.out(`stopping sandbox ${c('bold', r.id)} (meshbox pid ${r.ownerPid}${r.adminUrl ? `, admin ${r.adminUrl}` : ''})`);
      try {
        process.kill(r.ownerPid, 'SIGTERM');
      } catch {
        // gone already
      }
      if (await waitExit(r.ownerPid, timeoutMs)) {
        io.out(`sandbox ${r.id} ${c('green', 'stopped')}`);
        return;
      }
      io.out(c('yellow', `sandbox ${r.id} did not stop within ${Math.round(timeoutMs / 1000)}s: killing meshbox (pid ${r.ownerPid}) and removing its workloads`));
      try {
        process.kill(r.ownerPid, 'SIGKILL');
      } catch {
        // gone already
      }
      await waitExit(r.ownerPid, 5_000);
      const d = await getDocker();
      if (d) {
        const removed = await removeSandboxContainers(d, r.id);
        if (removed.length) io.out(`removed containers ${removed.join(', ')}`);
      }
    }),
  );

  // whatever dead sandboxes left: processes by their record, containers by label
  let cleaned = 0;
  for (const r of reapLeftovers()) {
    cleaned++;
    io.out(`sandbox ${r.sandbox} was left behind by a meshbox that died (pid ${r.ownerPid}): ${r.killed.length ? `stopped ${r.killed.join(', ')}` : 'nothing was left running'}`);
  }
  const d = await getDocker();
  if (d) {
    for (const r of await removeDeadSandboxContainers(d)) {
      cleaned++;
      io.out(`sandbox ${r.sandbox} was left behind by a meshbox that died${r.ownerPid ? ` (pid ${r.ownerPid})` : ''}: removed its containers ${r.containers.join(', ')}`);
    }
  }
  if (targets.length === 0 && cleaned === 0) io.out('no meshbox sandbox is running');
  return 0;
}
