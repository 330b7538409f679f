/**
 * How a process-style service (a `command`, no `image` or `build`) becomes a container: meshbox
 * generates an image, the service folder layered on the Node base image, and runs the command in
 * it with that folder as the working directory.
 *
 *   the service folder  `node <script> ...`: the folder of the script (the sample services:
 *                       `dist/sample-services/callme/`); any other command (`sh -c "..."`, a
 *                       program inside the folder): the service's `cwd`
 *   in the image        the folder's files at /app (symlinks followed, `.git` left out, at most
 *                       512 MB), plus a package.json `{"type":"module"}` when the folder has none
 *                       and the nearest package.json above it declares ES modules (as meshbox's
 *                       own does for the compiled sample services)
 *   the command         `node` runs the image's node; arguments naming files inside the folder
 *                       become paths relative to /app; `/bin/sh -c` runs the image's /bin/sh
 *                       (from the host); any other program must be a file inside the folder
 *
 * The image is tagged `meshbox/<service>:<hash>` and labelled with the hash of its content (the
 * folder's files, the generated package.json and the base image id), so it is built again only
 * when the sources (or the host's node) changed.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { MeshError } from '../../errors.js';
import { permanentFailure } from '../runtime.js';
import type { WorkloadSpec } from '../../config/mesh-types.js';
import { ContextTooLargeError, contextEntries, hashContext, walkContext, type ContextFile } from './context-files.js';
import { labelInstruction } from './base-image.js';
import type { TarEntry } from './tar.js';

export const APP_DIR = '/app';
const MAX_APP_BYTES = 512 * 1024 * 1024;
const FORMAT = 'meshbox-app/1';

export interface AppPlan {
  /** the host folder copied to /app */
  folder: string;
  /** the container command */
  cmd: string[];
  files: ContextFile[];
  /** the package.json written into /app when the folder has none */
  packageJson?: string;
}

const NODE_NAMES = new Set(['node', 'nodejs']);
/** node options whose value is the next argument */
const NODE_OPTIONS_WITH_VALUE = new Set(['-r', '--require', '--import', '--loader', '--experimental-loader', '--env-file', '--conditions', '-C', '--input-type', '--title']);

function isNode(program: string): boolean {
  return NODE_NAMES.has(path.basename(program)) || program === process.execPath;
}

function isShell(argv: readonly string[]): boolean {
  return ['/bin/sh', 'sh', '/bin/bash', 'bash'].includes(argv[0]!) && argv[1] === '-c';
}

function inside(folder: string, file: string): boolean {
  const rel = path.relative(folder, file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function existingFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** the script a node command runs, resolved against cwd (undefined for `node -e`, a REPL ...) */
export function nodeScript(argv: readonly string[], cwd: string): string | undefined {
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') return undefined;
    if (NODE_OPTIONS_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    const abs = path.resolve(cwd, a);
    return existingFile(abs) ? abs : undefined;
  }
  return undefined;
}

/** the `type` of the nearest package.json at or above `dir` */
export function nearestPackageType(dir: string): string | undefined {
  for (let d = dir; ; d = path.dirname(d)) {
    const pj = path.join(d, 'package.json');
    if (existsSync(pj)) {
      try {
        return (JSON.parse(readFileSync(pj, 'utf8')) as { type?: string }).type;
      } catch {
        return undefined;
      }
    }
    if (path.dirname(d) === d) return undefined;
  }
}

/** the service folder and the container command (pure but for reading the file system) */
export function planCommand(w: Pick<WorkloadSpec, 'command' | 'cwd' | 'service' | 'version'>): { folder: string; cmd: string[] } {
  const argv = w.command;
  if (!argv || argv.length === 0) throw permanentFailure(new MeshError('MESH_ERR_WORKLOAD_START', [`${w.service} ${w.version}`, 'no command, image or build to run']));
  const program = argv[0]!;
  const script = isNode(program) ? nodeScript(argv, w.cwd) : undefined;
  const folder = script ? path.dirname(script) : w.cwd;
  const rewrite = (arg: string): string => {
    if (arg.startsWith('-')) return arg;
    const abs = path.resolve(w.cwd, arg);
    if (!inside(folder, abs) || !existsSync(abs)) return arg;
    return path.relative(folder, abs).split(path.sep).join('/');
  };
  let cmdProgram: string;
  if (isNode(program)) cmdProgram = 'node';
  else if (isShell(argv)) cmdProgram = '/bin/sh';
  else {
    const abs = path.resolve(w.cwd, program);
    if (!program.includes('/') || !inside(folder, abs) || !existingFile(abs)) {
      throw permanentFailure(
        new MeshError('MESH_ERR_WORKLOAD_START', [`${w.service} ${w.version}`, `the Docker runtime cannot run \`${program}\` in a generated image`], {
          hint: "a generated image holds node, /bin/sh and the service folder only: run the service with `node ...`, point `command` at a program inside its folder, or give it an `image` or a `build` context in meshbox.yaml",
        }),
      );
    }
    cmdProgram = `./${path.relative(folder, abs).split(path.sep).join('/')}`;
  }
  const rest = isShell(argv) ? argv.slice(1) : argv.slice(1).map(rewrite);
  return { folder, cmd: [cmdProgram, ...rest] };
}

export async function planAppImage(w: WorkloadSpec): Promise<AppPlan> {
  const { folder, cmd } = planCommand(w);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw permanentFailure(
      new MeshError('MESH_ERR_WORKLOAD_START', [`${w.service} ${w.version}`, `its folder ${folder} does not exist`], {
        hint: 'build the service first (for the sample services: `npm run build`), or fix `command`/`cwd` in meshbox.yaml',
      }),
    );
  }
  let files: ContextFile[];
  try {
    files = await walkContext(folder, { followSymlinks: true, maxBytes: MAX_APP_BYTES, skipNames: new Set(['.git']) });
  } catch (e) {
    if (e instanceof ContextTooLargeError) {
      throw new MeshError('MESH_ERR_WORKLOAD_START', [`${w.service} ${w.version}`, `its folder ${folder} is too large to copy into an image (over 512 MB)`], {
        hint: 'give the service a `build` context with a Dockerfile and a .dockerignore, or an `image`',
      });
    }
    throw e;
  }
  const hasPackageJson = files.some((f) => f.rel === 'package.json');
  const packageJson = !hasPackageJson && nearestPackageType(folder) === 'module' ? '{"type":"module"}\n' : undefined;
  return { folder, cmd, files, packageJson };
}

export async function appImageHash(plan: AppPlan, baseId: string): Promise<string> {
  return hashContext(plan.files, [FORMAT, baseId, plan.packageJson ?? '']);
}

export function appDockerfile(base: string, labels: Record<string, string>): string {
  return `# meshbox: the service folder on the Node base image\nFROM ${base}\nCOPY app/ ${APP_DIR}/\n${labelInstruction(labels)}\n`;
}

export function* appEntries(plan: AppPlan, base: string, labels: Record<string, string>): Generator<TarEntry> {
  yield { type: 'file', name: 'Dockerfile', data: appDockerfile(base, labels) };
  yield { type: 'dir', name: 'app' };
  if (plan.packageJson) yield { type: 'file', name: 'app/package.json', data: plan.packageJson };
  yield* contextEntries(plan.files, 'app');
}
