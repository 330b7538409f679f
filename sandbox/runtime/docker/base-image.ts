/**
 * The Node base image service images are layered on, found or made without a registry:
 *
 * 1. a Node image already in the local store (`node:20`, `node:22-slim`, ...; the host's major
 *    version first), else
 * 2. meshbox's own `meshbox/node:<version>-<key>`, built earlier on this machine, else
 * 3. built now FROM scratch out of the host's own `node` binary, the shared libraries `ldd` says
 *    it needs (the dynamic loader included), `/bin/sh` (so `sh -c` commands and Dockerfile `RUN`
 *    steps work), CA certificates and minimal /etc files. Only when the host cannot provide a
 *    Linux binary for the daemon's architecture (macOS, a different CPU) is a pull needed, and
 *    only with --pull.
 *
 * The key of a meshbox base image is a hash of the Node version and the paths, sizes,
 * modification times and inodes of node, /bin/sh and the CA bundle: upgrading node on the host
 * makes a new base (and so new service images); an unchanged host reuses the old one without
 * reading 100 MB or running ldd.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type Dockerode from 'dockerode';
import { MeshError } from '../../errors.js';
import { buildImage, imageExists, pullImage, type ImageReport } from './image-build.js';
import { tarStream, type TarEntry } from './tar.js';

const run = promisify(execFile);
const FORMAT = 'meshbox-node-base/1';

export interface BaseImage {
  /** image reference to build FROM */
  image: string;
  id: string;
  source: 'local' | 'meshbox' | 'built' | 'pulled';
}

export interface BaseImageOptions {
  pull: boolean;
  report: ImageReport;
  /** the daemon's `docker info` OSType and Architecture */
  daemonOs: string;
  daemonArch: string;
}

/** `x64` <-> `x86_64`, `arm64` <-> `aarch64` */
export function sameArch(nodeArch: string, dockerArch: string): boolean {
  const norm = (a: string): string => ({ x64: 'amd64', x86_64: 'amd64', amd64: 'amd64', arm64: 'arm64', aarch64: 'arm64', arm: 'arm', armv7l: 'arm' })[a] ?? a;
  return norm(nodeArch) === norm(dockerArch);
}

/** picks a local Node image from repo tags: the host's major version first, then any >= 20 */
export function pickLocalNodeImage(repoTags: readonly string[], hostMajor: number): string | undefined {
  const scored: Array<{ tag: string; score: number }> = [];
  for (const ref of repoTags) {
    const m = /^(?:(?:docker\.io\/)?library\/)?node:(.+)$/.exec(ref);
    if (!m) continue;
    const tag = m[1]!;
    const major = /^(\d+)/.exec(tag);
    let score: number;
    if (major) {
      const n = Number(major[1]);
      if (n < 20) continue;
      score = n === hostMajor ? 300 : 200 + Math.min(n, 99);
    } else if (/^(lts|latest|current)(-|$)/.test(tag)) {
      score = 100;
    } else {
      continue;
    }
    if (/slim/.test(tag)) score += 0.5;
    scored.push({ tag: ref, score });
  }
  scored.sort((a, b) => b.score - a.score || a.tag.localeCompare(b.tag));
  return scored[0]?.tag;
}

/** the shared objects `ldd` lists for a binary (the loader included); [] for a static binary */
export async function sharedLibraries(binary: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('ldd', [binary], { encoding: 'utf8' }));
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; code?: string | number };
    const text = `${err.stdout ?? ''}${err.stderr ?? ''}`;
    if (/not a dynamic executable|statically linked/.test(text)) return [];
    if (err.code === 'ENOENT') throw new Error('`ldd` is not installed, so the libraries node needs cannot be found');
    throw new Error(`ldd ${binary} failed: ${text.trim() || String(e)}`);
  }
  return parseLdd(stdout, binary);
}

export function parseLdd(output: string, binary = 'the binary'): string[] {
  const libs: string[] = [];
  for (const raw of output.split('\n')) {
    const line = raw.trim();
    if (!line || /statically linked/.test(line)) continue;
    const missing = /^(\S+) => not found/.exec(line);
    if (missing) throw new Error(`${binary} needs ${missing[1]}, which ldd cannot find`);
    const arrow = /=> (\/\S+)/.exec(line);
    if (arrow) libs.push(arrow[1]!);
    else if (line.startsWith('/')) libs.push(line.split(/\s+/)[0]!);
  }
  return [...new Set(libs)];
}

const CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

interface HostFile {
  /** where it goes in the image */
  target: string;
  /** the real file on the host */
  source: string;
  mode: number;
}

/**
 * The key of the base image this host makes: node's version and the identity (path, size,
 * modification time, inode) of node, /bin/sh and the CA bundle. Only stat() calls, so a warm
 * start does not run ldd; the libraries follow the binaries that need them.
 */
export function hostBaseKey(nodeBinary = process.execPath): string {
  const h = createHash('sha256').update(`${FORMAT}\n${process.version}\n`);
  const sources = [realpathSync(nodeBinary), existsSync('/bin/sh') ? realpathSync('/bin/sh') : '', CA_BUNDLES.find((f) => existsSync(f)) ?? ''];
  for (const source of sources) {
    if (!source) continue;
    const st = statSync(source);
    h.update(`${source}\0${st.size}\0${st.mtimeMs}\0${st.ino}\n`);
  }
  return h.digest('hex');
}

/** the host files of a base image: node, the libraries ldd lists for it, /bin/sh, CA certificates */
export async function hostBaseFiles(nodeBinary = process.execPath): Promise<HostFile[]> {
  const files: HostFile[] = [];
  const add = (target: string, source: string, mode: number): void => {
    if (files.some((f) => f.target === target)) return;
    files.push({ target, source: realpathSync(source), mode });
  };
  const node = realpathSync(nodeBinary);
  add('/usr/local/bin/node', node, 0o755);
  for (const lib of await sharedLibraries(node)) add(lib, lib, 0o755);
  if (existsSync('/bin/sh')) {
    const sh = realpathSync('/bin/sh');
    add('/bin/sh', sh, 0o755);
    for (const lib of await sharedLibraries(sh)) add(lib, lib, 0o755);
  }
  const ca = CA_BUNDLES.find((f) => existsSync(f));
  if (ca) add('/etc/ssl/certs/ca-certificates.crt', ca, 0o644);
  return files;
}

const ETC: Record<string, string> = {
  '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n',
  '/etc/group': 'root:x:0:\nnogroup:x:65534:\n',
  '/etc/nsswitch.conf': 'passwd: files\ngroup: files\nhosts: files dns\n',
};

/** a LABEL instruction for all labels at once (one build step) */
export function labelInstruction(labels: Record<string, string>): string {
  return `LABEL ${Object.entries(labels)
    .map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`)
    .join(' ')}`;
}

function baseDockerfile(labels: Record<string, string>): string {
  return `# meshbox: a Node runtime image made from the host's own node binary (no registry needed)
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin
WORKDIR /app
${labelInstruction(labels)}
`;
}

function* baseEntries(files: readonly HostFile[], labels: Record<string, string>): Generator<TarEntry> {
  yield { type: 'file', name: 'Dockerfile', data: baseDockerfile(labels) };
  const dirs = new Set<string>(['/tmp', '/root', '/app', '/etc', '/etc/ssl/certs']);
  for (const f of [...files.map((x) => x.target), ...Object.keys(ETC)]) {
    for (let d = path.posix.dirname(f); d !== '/'; d = path.posix.dirname(d)) dirs.add(d);
  }
  for (const d of [...dirs].sort()) yield { type: 'dir', name: `rootfs${d}`, mode: d === '/tmp' ? 0o1777 : 0o755 };
  for (const [name, text] of Object.entries(ETC)) yield { type: 'file', name: `rootfs${name}`, data: text };
  for (const f of files) yield { type: 'file', name: `rootfs${f.target}`, mode: f.mode, source: f.source, size: statSync(f.source).size };
}

export const BASE_REPOSITORY = 'meshbox/node';

export async function ensureNodeBase(docker: Dockerode, opts: BaseImageOptions): Promise<BaseImage> {
  const hostMajor = Number(process.versions.node.split('.')[0]);
  const images = await docker.listImages();
  const local = pickLocalNodeImage(images.flatMap((i) => i.RepoTags ?? []), hostMajor);
  if (local) {
    const info = await imageExists(docker, local);
    if (info) {
      opts.report('cached', local, `using the local Node image ${local} as the base of service images`);
      return { image: local, id: info.Id, source: 'local' };
    }
  }
  const fallback = `node:${hostMajor}-slim`;
  const canBuild = process.platform === 'linux' && opts.daemonOs === 'linux' && sameArch(process.arch, opts.daemonArch);
  if (!canBuild) {
    const why = process.platform !== 'linux' ? `this machine's node is a ${process.platform} binary` : `this machine is ${process.arch} and the Docker daemon ${opts.daemonArch}`;
    if (!opts.pull) {
      throw new MeshError('MESH_ERR_IMAGE_MISSING', [fallback], {
        hint: `meshbox builds its Node base image from this machine's node binary, but ${why}: pull a Node image once (\`docker pull ${fallback}\`; any local node:20+ image is used) or run \`meshbox up --pull\``,
      });
    }
    const started = Date.now();
    opts.report('start', fallback, `pulling ${fallback} (--pull)`);
    await pullImage(docker, fallback, opts.report);
    const info = await imageExists(docker, fallback);
    if (!info) throw new MeshError('MESH_ERR_DOCKER', [`pull ${fallback}`, 'the pull finished but the image is not there']);
    opts.report('done', fallback, `pulled ${fallback}`, Date.now() - started);
    return { image: fallback, id: info.Id, source: 'pulled' };
  }
  const key = hostBaseKey();
  const tag = `${BASE_REPOSITORY}:${process.versions.node}-${key.slice(0, 12)}`;
  const existing = await imageExists(docker, tag);
  if (existing && existing.Config?.Labels?.['meshbox.base-key'] === key) {
    opts.report('cached', tag, `base image ${tag} is up to date`);
    return { image: tag, id: existing.Id, source: 'meshbox' };
  }
  let files: HostFile[];
  try {
    files = await hostBaseFiles();
  } catch (e) {
    throw new MeshError('MESH_ERR_IMAGE_MISSING', [fallback], {
      hint: `meshbox could not collect this machine's node and its libraries for a base image (${(e as Error).message}): pull a Node image once (\`docker pull ${fallback}\`) or run \`meshbox up --pull\``,
    });
  }
  const started = Date.now();
  opts.report('start', tag, `building the Node base image ${tag} from ${process.execPath} (node ${process.version}) and ${files.length - 1} host files, FROM scratch`);
  const id = await buildImage(
    docker,
    {
      tag,
      context: tarStream(baseEntries(files, { 'meshbox.kind': 'base', 'meshbox.base-key': key, 'meshbox.node-version': process.versions.node })),
    },
    opts.report,
  );
  opts.report('done', tag, `built ${tag}`, Date.now() - started);
  return { image: tag, id, source: 'built' };
}
