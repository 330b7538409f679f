/**
 * The image each workload runs, offline first:
 *
 *   image: name      used when it is in the local store; pulled only with --pull, else
 *                    MESH_ERR_IMAGE_MISSING
 *   build: context   built from the folder's Dockerfile (its FROM images must be local unless
 *                    --pull), tagged meshbox/<service>:<hash>; with host networking its RUN
 *                    steps use the host's network too (no bridge, no 172.17.x addresses)
 *   command only     a generated image: the service folder on the Node base image (see
 *                    app-image.ts), tagged meshbox/<service>:<hash>
 *
 * A hash-tagged image that is already present is reused without building (the content hash is
 * also the `meshbox.content-hash` label). Work is shared: the replicas of a workload starting
 * together wait for one build, and the Node base image is looked up once per sandbox.
 */
import type Dockerode from 'dockerode';
import type { WorkloadSpec } from '../../config/mesh-types.js';
import { MeshError } from '../../errors.js';
import { appEntries, appImageHash, planAppImage } from './app-image.js';
import { ensureNodeBase, type BaseImage } from './base-image.js';
import { buildImage, imageExists, pullImage, type ImageReport } from './image-build.js';
import { tarStream } from './tar.js';
import { baseImagesOf, NODE_IMAGE_ARG, planUserBuild, userBuildEntries, userBuildHash } from './user-build.js';

export interface ResolvedImage {
  image: string;
  /** the container command (unset: the image's own) */
  cmd?: string[];
  /** the container entrypoint (unset: the image's own; set, the image's command is not used either) */
  entrypoint?: string[];
  /** the container working directory (unset: the image's own) */
  workingDir?: string;
}

/** a named or built image's command: a manifest's container command/args (Kubernetes semantics), else `command` as its CMD */
export function commandOf(w: Pick<WorkloadSpec, 'command' | 'container'>): Pick<ResolvedImage, 'cmd' | 'entrypoint'> {
  if (!w.container) return w.command ? { cmd: w.command } : {};
  return { ...(w.container.command ? { entrypoint: w.container.command } : {}), ...(w.container.args ? { cmd: w.container.args } : {}) };
}

export interface ImageManagerOptions {
  pull: boolean;
  report: ImageReport;
  daemonOs: string;
  daemonArch: string;
  /** the network of Dockerfile RUN steps: `host` with host-networked containers, else Docker's default */
  buildNetwork?: 'host';
}

export const IMAGE_REPOSITORY = 'meshbox';

export function serviceRepository(service: string): string {
  return `${IMAGE_REPOSITORY}/${service.toLowerCase().replace(/[^a-z0-9._-]+/g, '-')}`;
}

export class ImageManager {
  private readonly memo = new Map<string, Promise<ResolvedImage>>();
  private base: Promise<BaseImage> | undefined;

  constructor(
    private readonly docker: Dockerode,
    private readonly opts: ImageManagerOptions,
  ) {}

  /**
   * The image (and command) for a workload. Instances starting together share one resolution;
   * a later start (a restart, a code reload) hashes the sources again, so changed code gets a new
   * image and unchanged code the cached one.
   */
  resolve(w: WorkloadSpec): Promise<ResolvedImage> {
    const key = JSON.stringify([w.service, w.image, w.build, w.command, w.container, w.cwd]);
    let p = this.memo.get(key);
    if (!p) {
      p = this.doResolve(w);
      this.memo.set(key, p);
      const forget = (): void => {
        if (this.memo.get(key) === p) this.memo.delete(key);
      };
      p.then(forget, forget);
    }
    return p;
  }

  nodeBase(): Promise<BaseImage> {
    if (!this.base) {
      this.base = ensureNodeBase(this.docker, this.opts);
      this.base.catch(() => (this.base = undefined));
    }
    return this.base;
  }

  private async doResolve(w: WorkloadSpec): Promise<ResolvedImage> {
    if (w.build) return this.userBuild(w);
    if (w.image) {
      await this.ensurePresent(w.image);
      return { image: w.image, ...commandOf(w) };
    }
    return this.appImage(w);
  }

  /** a named image: local, or pulled with --pull */
  async ensurePresent(image: string): Promise<void> {
    if (await imageExists(this.docker, image)) return;
    if (!this.opts.pull) throw new MeshError('MESH_ERR_IMAGE_MISSING', [image]);
    const started = Date.now();
    this.opts.report('start', image, `pulling ${image} (--pull)`);
    await pullImage(this.docker, image, this.opts.report);
    this.opts.report('done', image, `pulled ${image}`, Date.now() - started);
  }

  private async cached(tag: string, hash: string): Promise<boolean> {
    const info = await imageExists(this.docker, tag);
    return info?.Config?.Labels?.['meshbox.content-hash'] === hash;
  }

  private async appImage(w: WorkloadSpec): Promise<ResolvedImage> {
    const plan = await planAppImage(w);
    const base = await this.nodeBase();
    const hash = await appImageHash(plan, base.id);
    const tag = `${serviceRepository(w.service)}:${hash.slice(0, 12)}`;
    const resolved: ResolvedImage = { image: tag, cmd: plan.cmd, workingDir: '/app' };
    if (await this.cached(tag, hash)) {
      this.opts.report('cached', tag, `image ${tag} for ${w.service} is up to date`);
      return resolved;
    }
    const started = Date.now();
    this.opts.report('start', tag, `building image ${tag} for ${w.service} from ${plan.folder} (${plan.files.filter((f) => f.type === 'file').length} files) on ${base.image}`);
    await buildImage(
      this.docker,
      {
        tag,
        context: tarStream(appEntries(plan, base.image, { 'meshbox.kind': 'app', 'meshbox.service': w.service, 'meshbox.content-hash': hash, 'meshbox.base': base.image, 'meshbox.source': plan.folder })),
        contextDir: plan.folder,
      },
      this.opts.report,
    );
    this.opts.report('done', tag, `built ${tag}`, Date.now() - started);
    return resolved;
  }

  private async userBuild(w: WorkloadSpec): Promise<ResolvedImage> {
    const build = w.build!;
    const plan = await planUserBuild(build, w.service);
    const args: Record<string, string> = { ...build.args };
    let base: BaseImage | undefined;
    if (plan.wantsNodeImage && args[NODE_IMAGE_ARG] === undefined) {
      base = await this.nodeBase();
      args[NODE_IMAGE_ARG] = base.image;
    }
    const hash = await userBuildHash(plan, args, base?.id);
    const tag = `${serviceRepository(w.service)}:${hash.slice(0, 12)}`;
    const resolved: ResolvedImage = { image: tag, ...commandOf(w) };
    if (await this.cached(tag, hash)) {
      this.opts.report('cached', tag, `image ${tag} for ${w.service} is up to date`);
      return resolved;
    }
    if (!this.opts.pull) {
      for (const from of baseImagesOf(plan.dockerfileText, args)) {
        if (!(await imageExists(this.docker, from))) {
          throw new MeshError('MESH_ERR_IMAGE_MISSING', [from], {
            hint: `${plan.context}/${plan.dockerfile} starts FROM ${from}: pull or build it yourself (\`docker pull ${from}\`), run \`meshbox up --pull\`, or build on meshbox's offline Node image with \`ARG ${NODE_IMAGE_ARG}\` and \`FROM \${${NODE_IMAGE_ARG}}\``,
          });
        }
      }
    }
    const started = Date.now();
    this.opts.report('start', tag, `building image ${tag} for ${w.service} from ${plan.context}/${plan.dockerfile}`);
    await buildImage(
      this.docker,
      {
        tag,
        context: tarStream(userBuildEntries(plan)),
        dockerfile: plan.dockerfile,
        buildargs: args,
        labels: { 'meshbox.kind': 'build', 'meshbox.content-hash': hash },
        contextDir: plan.context,
        networkMode: this.opts.buildNetwork,
      },
      this.opts.report,
    );
    this.opts.report('done', tag, `built ${tag}`, Date.now() - started);
    return resolved;
  }
}
