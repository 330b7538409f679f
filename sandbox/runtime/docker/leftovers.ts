/**
 * Containers a dead meshbox left behind, found by label and removed before a sandbox starts.
 *
 * A sandbox's containers are alive while either
 *   - a sandbox record (sandbox-state.ts) with that id has a living owner, or
 *   - the owner named in the container's labels (pid + process start time, on this host) still
 *     runs: this covers a sandbox started with another MESHBOX_STATE_DIR.
 * Containers of another host sharing the daemon are never touched. A meshbox killed with -9 also
 * has its watchdog (docker-watchdog.ts) remove its containers at once; this sweep is the net
 * for when both are gone.
 */
import { readFileSync } from 'node:fs';
import type Dockerode from 'dockerode';
import { isAlive, listSandboxes } from '../sandbox-state.js';
import { currentHostName, LABEL, type Owner } from './container-spec.js';
import { dockerMessage } from './daemon.js';

/** this process's start time as the kernel counts it (so a reused pid is told apart) */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

let self: Owner | undefined;

export function currentOwner(): Owner {
  self ??= {
    pid: process.pid,
    started: processStartTime(process.pid) ?? `t${Math.round(Date.now() - process.uptime() * 1000)}`,
    host: currentHostName(),
  };
  return self;
}

/** true while the process named by the labels runs (a reused pid does not count on Linux) */
export function ownerAlive(labels: Record<string, string>, host = currentHostName()): boolean {
  const pid = Number(labels[LABEL.ownerPid]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (labels[LABEL.ownerHost] && labels[LABEL.ownerHost] !== host) return true; // not ours to judge
  if (!isAlive(pid)) return false;
  const started = processStartTime(pid);
  const recorded = labels[LABEL.ownerStarted];
  if (started !== undefined && recorded !== undefined && !recorded.startsWith('t')) return started === recorded;
  return true;
}

export interface RemovedSandbox {
  sandbox: string;
  ownerPid: number;
  containers: string[];
}

function nameOf(c: Dockerode.ContainerInfo): string {
  return (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, '');
}

/** removes (force) every container of sandboxes whose meshbox is gone; returns what it removed */
export async function removeDeadSandboxContainers(docker: Dockerode): Promise<RemovedSandbox[]> {
  const containers = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL.sandbox] }) });
  const live = new Set(listSandboxes().filter((r) => isAlive(r.ownerPid)).map((r) => r.id));
  const host = currentHostName();
  const dead = new Map<string, RemovedSandbox>();
  const removals: Array<Promise<void>> = [];
  for (const c of containers) {
    const labels = c.Labels ?? {};
    const sandbox = labels[LABEL.sandbox]!;
    if (live.has(sandbox) || ownerAlive(labels, host)) continue;
    let entry = dead.get(sandbox);
    if (!entry) dead.set(sandbox, (entry = { sandbox, ownerPid: Number(labels[LABEL.ownerPid]) || 0, containers: [] }));
    const name = nameOf(c);
    entry.containers.push(name);
    removals.push(
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch((e: unknown) => {
          if ((e as { statusCode?: number }).statusCode !== 404 && !/already in progress/.test(dockerMessage(e))) throw e;
        }),
    );
  }
  await Promise.all(removals);
  return [...dead.values()].map((d) => ({ ...d, containers: d.containers.sort() }));
}

/** removes (force) every container of one sandbox; returns their names */
export async function removeSandboxContainers(docker: Dockerode, sandboxId: string): Promise<string[]> {
  const containers = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL.sandbox}=${sandboxId}`] }) });
  await Promise.all(
    containers.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch((e: unknown) => {
          if ((e as { statusCode?: number }).statusCode !== 404 && !/already in progress/.test(dockerMessage(e))) throw e;
        }),
    ),
  );
  return containers.map(nameOf).sort();
}
