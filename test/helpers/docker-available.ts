/**
 * Whether Docker tests can run: a daemon must answer. Locally they are skipped with a visible
 * message when none does; in CI (CI set, as .ci/run does) a missing daemon fails the file, so the
 * Docker tests can never silently not run there.
 */
import { execFileSync } from 'node:child_process';
import type Dockerode from 'dockerode';
import { connectDocker, dockerEndpoint, probeDaemon } from '../../sandbox/runtime/docker/daemon.js';

export interface DockerForTests {
  available: boolean;
  reason?: string;
}

let cached: Promise<DockerForTests> | undefined;

export function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** probes once per test file; throws in CI when no daemon answers */
export async function dockerForTests(what: string): Promise<DockerForTests> {
  cached ??= (async () => {
    const endpoint = dockerEndpoint();
    const probe = await probeDaemon(endpoint, 5_000);
    return probe.ok ? { available: true } : { available: false, reason: `${endpoint.description}: ${probe.reason}` };
  })();
  const result = await cached;
  if (!result.available) {
    if (isCi()) throw new Error(`CI: the Docker tests (${what}) must run, but no Docker daemon answers (${result.reason}); .ci/run starts dockerd`);
    process.stderr.write(`\n  SKIPPED ${what}: no Docker daemon answers (${result.reason}). Start dockerd to run them.\n\n`);
  }
  return result;
}

export function testDocker(): Promise<Dockerode> {
  return connectDocker(dockerEndpoint());
}

/** names of the containers (running or not) of a sandbox, via the docker CLI when present, else the API */
export async function sandboxContainers(sandboxId: string, docker?: Dockerode): Promise<string[]> {
  try {
    const out = execFileSync('docker', ['ps', '-a', '--filter', `label=meshbox.sandbox=${sandboxId}`, '--format', '{{.Names}}'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return out.split('\n').filter(Boolean).sort();
  } catch {
    const d = docker ?? (await testDocker());
    const list = await d.listContainers({ all: true, filters: JSON.stringify({ label: [`meshbox.sandbox=${sandboxId}`] }) });
    return list.map((c) => (c.Names?.[0] ?? c.Id).replace(/^\//, '')).sort();
  }
}

/** the container of an instance in a sandbox */
export async function instanceContainer(docker: Dockerode, sandboxId: string, instance: string): Promise<Dockerode.ContainerInfo | undefined> {
  const list = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`meshbox.sandbox=${sandboxId}`, `meshbox.instance=${instance}`] }) });
  return list[0];
}
