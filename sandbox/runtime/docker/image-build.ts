/**
 * Talks to the daemon's image endpoints: build an image from a tar stream (classic builder, so no
 * BuildKit session is needed and nothing is pulled unless asked), pull an image (only with
 * --pull), and turn their JSON progress streams into progress lines and one clear error.
 */
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { MeshError } from '../../errors.js';
import type { ImageEvent } from '../../events.js';
import { dockerMessage } from './daemon.js';

export type ImageReport = (phase: ImageEvent['phase'], image: string, message: string, durationMs?: number) => void;

interface ProgressMessage {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  error?: string;
  errorDetail?: { message?: string };
  aux?: { ID?: string };
}

/** the JSON messages of a progress stream, whatever the chunking */
export async function* jsonMessages(stream: NodeJS.ReadableStream): AsyncGenerator<ProgressMessage> {
  let buf = '';
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    buf += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (!line) continue;
      try {
        yield JSON.parse(line) as ProgressMessage;
      } catch {
        yield { stream: line };
      }
    }
  }
  const rest = buf.trim();
  if (rest) {
    try {
      yield JSON.parse(rest) as ProgressMessage;
    } catch {
      yield { stream: rest };
    }
  }
}

export interface BuildRequest {
  tag: string;
  context: Readable;
  /** Dockerfile path inside the context */
  dockerfile?: string;
  buildargs?: Record<string, string>;
  labels?: Record<string, string>;
  /** the host folder of the context, for the hint of a failed build */
  contextDir?: string;
  /** `host`: RUN steps share the host's network (no bridge needed, nothing off loopback unless the step asks) */
  networkMode?: 'host';
}

const NOISE = /^( ---> |Removing intermediate container |Successfully built |Successfully tagged |\s*$)/;

/** builds and tags an image; resolves with its id; a failed step is a MESH_ERR_IMAGE_BUILD */
export async function buildImage(docker: Dockerode, req: BuildRequest, report: ImageReport): Promise<string> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(req.context, {
      t: req.tag,
      dockerfile: req.dockerfile ?? 'Dockerfile',
      buildargs: req.buildargs ?? {},
      labels: req.labels ?? {},
      rm: true,
      forcerm: true,
      pull: false,
      ...(req.networkMode ? { networkmode: req.networkMode } : {}),
    } as Dockerode.ImageBuildOptions);
  } catch (e) {
    throw new MeshError('MESH_ERR_IMAGE_BUILD', [req.tag, 'reading the build context', dockerMessage(e), req.contextDir ?? '']);
  }
  let step = '';
  let id = '';
  const tail: string[] = [];
  for await (const m of jsonMessages(stream)) {
    if (m.error || m.errorDetail) {
      const reason = (m.errorDetail?.message ?? m.error ?? 'unknown error').trim();
      const output = tail.filter((l) => !l.startsWith('Step ')).slice(-5);
      report('failed', req.tag, `${step ? `step ${step}` : 'build'}: ${reason}`);
      throw new MeshError('MESH_ERR_IMAGE_BUILD', [req.tag, step ? `step ${step}` : 'the first step', output.length ? `${reason}\n  last output:\n    ${output.join('\n    ')}` : reason, req.contextDir ?? ''], {
        hint: `fix that step${req.contextDir ? ` in ${req.contextDir}/${req.dockerfile ?? 'Dockerfile'}` : ''} (the build output is above); \`docker build ${req.contextDir ?? '<context>'}\` reproduces it`,
      });
    }
    if (m.aux?.ID) id = m.aux.ID;
    if (m.stream !== undefined) {
      for (const raw of m.stream.split('\n')) {
        const line = raw.replace(/\r$/, '');
        if (NOISE.test(line)) continue;
        const s = /^Step (\d+\/\d+) : (.*)$/.exec(line);
        if (s) step = `${s[1]} (${s[2]})`;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        report('progress', req.tag, line);
      }
    }
  }
  if (!id) {
    try {
      id = (await docker.getImage(req.tag).inspect()).Id;
    } catch (e) {
      throw new MeshError('MESH_ERR_IMAGE_BUILD', [req.tag, step ? `step ${step}` : 'the end', `the build finished but left no image (${dockerMessage(e)})`, req.contextDir ?? '']);
    }
  }
  return id;
}

/** pulls an image (only ever called when the user passed --pull) */
export async function pullImage(docker: Dockerode, image: string, report: ImageReport): Promise<void> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.pull(image);
  } catch (e) {
    throw new MeshError('MESH_ERR_DOCKER', [`pull ${image}`, dockerMessage(e)], {
      hint: `check the image name and that the registry is reachable (and \`docker login\` if it is private), or build the image locally`,
    });
  }
  const lastStatus = new Map<string, string>();
  for await (const m of jsonMessages(stream)) {
    if (m.error || m.errorDetail) {
      const reason = (m.errorDetail?.message ?? m.error ?? 'unknown error').trim();
      report('failed', image, reason);
      throw new MeshError('MESH_ERR_DOCKER', [`pull ${image}`, reason], {
        hint: 'check the image name and that the registry is reachable (and `docker login` if it is private), or build the image locally',
      });
    }
    if (!m.status || /^(Downloading|Extracting|Waiting|Verifying Checksum)$/.test(m.status)) continue;
    const key = m.id ?? '';
    if (lastStatus.get(key) === m.status) continue;
    lastStatus.set(key, m.status);
    report('progress', image, m.id ? `${m.id}: ${m.status}` : m.status);
  }
}

/** true when the image is in the daemon's local store */
export async function imageExists(docker: Dockerode, image: string): Promise<Dockerode.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(image).inspect();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined;
    throw new MeshError('MESH_ERR_DOCKER', [`inspect image ${image}`, dockerMessage(e)]);
  }
}
