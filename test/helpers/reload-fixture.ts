/**
 * A throwaway copy of the sample mesh for hot reload tests, so tests never edit the repository's
 * own files. The layout mirrors the package, so the sample meshbox.yaml works unchanged:
 *
 *   <root>/sample-services/{meshbox.yaml, rules/, callme/, caller/}   (copied)
 *   <root>/dist/sample-services/{callme,caller}/                       (copied from the build)
 *   <root>/node_modules -> the package's node_modules                  (tsc and @types for `watch.build`)
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { packageRoot } from '../../sandbox/paths.js';

export interface SampleCopy {
  root: string;
  /** <root>/sample-services */
  meshDir: string;
  meshFile: string;
  rulesDir: string;
  /** a state folder for MESHBOX_STATE_DIR */
  stateDir: string;
  read(rel: string): string;
  /** writes a file under sample-services/ (as an editor would: in place) */
  write(rel: string, text: string): void;
  /** replaces `from` by `to` in a file under sample-services/; throws when `from` is absent */
  edit(rel: string, from: string | RegExp, to: string): void;
  cleanup(): void;
}

export function copySampleMesh(): SampleCopy {
  const ROOT = packageRoot();
  const built = path.join(ROOT, 'dist', 'sample-services');
  if (!existsSync(path.join(built, 'callme', 'main.js'))) throw new Error('run `npm run build` first: dist/sample-services is missing');
  const root = mkdtempSync(path.join(os.tmpdir(), 'meshbox-reload-'));
  const meshDir = path.join(root, 'sample-services');
  cpSync(path.join(ROOT, 'sample-services'), meshDir, { recursive: true });
  mkdirSync(path.join(root, 'dist'), { recursive: true });
  cpSync(built, path.join(root, 'dist', 'sample-services'), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  const stateDir = path.join(root, 'state');
  mkdirSync(stateDir);
  const abs = (rel: string): string => path.join(meshDir, rel);
  return {
    root,
    meshDir,
    meshFile: abs('meshbox.yaml'),
    rulesDir: abs('rules'),
    stateDir,
    read: (rel) => readFileSync(abs(rel), 'utf8'),
    write: (rel, text) => writeFileSync(abs(rel), text),
    edit(rel, from, to) {
      const text = readFileSync(abs(rel), 'utf8');
      const next = text.replace(from, to);
      if (next === text) throw new Error(`${rel}: ${String(from)} not found`);
      writeFileSync(abs(rel), next);
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}

/** polls `check` until it returns a value other than undefined/false */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
