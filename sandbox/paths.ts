import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The meshbox package folder (works from sources and from dist/). */
export function packageRoot(): string {
  if (root) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'meshbox') return (root = dir);
      } catch {
        // keep walking up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('meshbox package root not found');
    dir = up;
  }
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The bundled sample mesh definition. */
export function sampleMeshFile(): string {
  return path.join(packageRoot(), 'sample-services', 'meshbox.yaml');
}
