/**
 * The mesh `meshbox up -f` (or a meshbox.yaml with `kubernetes:`) runs: the manifests imported for
 * the runtime the workloads will run under (an image is "runnable" differently for Docker and
 * for processes), with the local Docker image store asked which images it has.
 */
import type { Finding } from '../config/findings.js';
import type { MeshDefinition } from '../config/mesh-types.js';
import { connectDocker, dockerEndpoint, probeDaemon } from '../runtime/docker/daemon.js';
import { imageExists } from '../runtime/docker/image-build.js';
import type { RuntimeChoice } from '../runtime/select-runtime.js';
import { importManifests, withKubernetes, type ImportResult } from './import-mesh.js';

export interface KubernetesLoad extends ImportResult {
  /** the runtime the import was made for; run the sandbox with it */
  runtime: 'process' | 'docker';
}

/** `auto` as the runtime selection resolves it: Docker when a daemon answers. */
export async function resolveRuntime(choice: RuntimeChoice): Promise<'process' | 'docker'> {
  if (choice !== 'auto') return choice;
  return (await probeDaemon(dockerEndpoint(), 1_500)).ok ? 'docker' : 'process';
}

async function imageLookup(runtime: 'process' | 'docker'): Promise<((image: string) => Promise<boolean>) | undefined> {
  if (runtime !== 'docker') return undefined;
  const docker = await connectDocker();
  return async (image) => (await imageExists(docker, image)) !== undefined;
}

/** `-f` paths, or the `kubernetes:` of a loaded meshbox.yaml. */
export async function loadKubernetesMesh(source: { files: string[]; images?: MeshDefinition['kubernetes'] } | { mesh: MeshDefinition }, choice: RuntimeChoice): Promise<KubernetesLoad> {
  const runtime = await resolveRuntime(choice);
  const lookup = await imageLookup(runtime);
  const opts = { runtime, ...(lookup ? { imageExists: lookup } : {}) };
  const result = 'files' in source ? await importManifests(source.files, { ...opts, ...(source.images ? { images: source.images.images } : {}) }) : await withKubernetes(source.mesh, opts);
  return { ...result, runtime };
}

export type { Finding };
