/**
 * A service's own `build` context (a folder with a Dockerfile): its files (with .dockerignore),
 * its content hash, and the images its FROM lines need, checked before building so a missing
 * base image is one clear error instead of a pull attempt.
 *
 * A Dockerfile may start with `ARG MESHBOX_NODE_IMAGE` and `FROM ${MESHBOX_NODE_IMAGE}`: meshbox
 * then passes its Node base image (a local node image, or the one built from the host's node),
 * so a Node service builds offline.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { MeshError } from '../../errors.js';
import type { BuildSpec } from '../../config/mesh-types.js';
import { contextEntries, dockerignoreMatcher, hashContext, walkContext, type ContextFile } from './context-files.js';
import type { TarEntry } from './tar.js';

export const NODE_IMAGE_ARG = 'MESHBOX_NODE_IMAGE';
const FORMAT = 'meshbox-build/1';

export interface UserBuildPlan {
  context: string;
  dockerfile: string;
  dockerfileText: string;
  files: ContextFile[];
  /** the Dockerfile uses ARG MESHBOX_NODE_IMAGE */
  wantsNodeImage: boolean;
}

/** Dockerfile lines with continuations joined and comments dropped */
function instructions(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!cur && (line.startsWith('#') || !line)) continue;
    if (line.endsWith('\\')) {
      cur += `${line.slice(0, -1)} `;
      continue;
    }
    cur += line;
    out.push(cur.trim());
    cur = '';
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function substitute(text: string, vars: Record<string, string | undefined>): string | undefined {
  let unresolved = false;
  const out = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a: string | undefined, dflt: string | undefined, b: string | undefined) => {
    const name = (a ?? b)!;
    const v = vars[name] ?? dflt;
    if (v === undefined) unresolved = true;
    return v ?? '';
  });
  return unresolved ? undefined : out;
}

/**
 * The images a Dockerfile's FROM lines name (stage names and `scratch` left out; a reference
 * that depends on an ARG without a value is skipped: the build will say what is wrong).
 */
export function baseImagesOf(dockerfile: string, buildArgs: Record<string, string>): string[] {
  const globalArgs: Record<string, string | undefined> = {};
  const stages = new Set<string>();
  const images: string[] = [];
  let seenFrom = false;
  for (const ins of instructions(dockerfile)) {
    const [keyword, ...rest] = ins.split(/\s+/);
    const kw = keyword!.toUpperCase();
    if (kw === 'ARG' && !seenFrom) {
      for (const decl of rest) {
        const eq = decl.indexOf('=');
        const name = eq === -1 ? decl : decl.slice(0, eq);
        const dflt = eq === -1 ? undefined : decl.slice(eq + 1).replace(/^["']|["']$/g, '');
        globalArgs[name] = buildArgs[name] ?? dflt;
      }
    } else if (kw === 'FROM') {
      seenFrom = true;
      const args = rest.filter((a) => !a.startsWith('--'));
      const ref = substitute(args[0] ?? '', globalArgs);
      if (args[1]?.toUpperCase() === 'AS' && args[2]) stages.add(args[2].toLowerCase());
      if (!ref || ref.toLowerCase() === 'scratch' || stages.has(ref.toLowerCase())) continue;
      if (!images.includes(ref)) images.push(ref);
    }
  }
  return images;
}

export function usesNodeImageArg(dockerfile: string): boolean {
  return instructions(dockerfile).some((ins) => new RegExp(`^ARG\\s+${NODE_IMAGE_ARG}(=|\\s|$)`, 'i').test(ins));
}

export async function planUserBuild(build: BuildSpec, service: string): Promise<UserBuildPlan> {
  const context = build.context;
  if (!existsSync(context) || !statSync(context).isDirectory()) {
    throw new MeshError('MESH_ERR_IMAGE_BUILD', [`for ${service}`, 'the start', `the build context ${context} is not a folder`, context], {
      hint: 'fix `build` in meshbox.yaml: it names a folder holding a Dockerfile (relative to meshbox.yaml)',
    });
  }
  const dockerfilePath = path.resolve(context, build.dockerfile);
  if (!existsSync(dockerfilePath)) {
    throw new MeshError('MESH_ERR_IMAGE_BUILD', [`for ${service}`, 'the start', `${dockerfilePath} does not exist`, context], {
      hint: 'add the Dockerfile, or name it with `build: {context, dockerfile}` in meshbox.yaml',
    });
  }
  const dockerfile = path.relative(context, dockerfilePath).split(path.sep).join('/');
  const ignorePath = path.join(context, '.dockerignore');
  const ignore = existsSync(ignorePath) ? dockerignoreMatcher(readFileSync(ignorePath, 'utf8')) : undefined;
  const keep = new Set([dockerfile, '.dockerignore']);
  const matcher = ignore ? Object.assign((rel: string, isDir: boolean) => !keep.has(rel) && ignore(rel, isDir), { hasExceptions: ignore.hasExceptions }) : undefined;
  const files = await walkContext(context, { ignore: matcher });
  const dockerfileText = readFileSync(dockerfilePath, 'utf8');
  return { context, dockerfile, dockerfileText, files, wantsNodeImage: usesNodeImageArg(dockerfileText) };
}

export async function userBuildHash(plan: UserBuildPlan, buildArgs: Record<string, string>, baseId: string | undefined): Promise<string> {
  const args = Object.entries(buildArgs).sort(([a], [b]) => a.localeCompare(b));
  return hashContext(plan.files, [FORMAT, plan.dockerfile, JSON.stringify(args), baseId ?? '']);
}

export function userBuildEntries(plan: UserBuildPlan): TarEntry[] {
  return contextEntries(plan.files);
}
