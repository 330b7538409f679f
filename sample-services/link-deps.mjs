#!/usr/bin/env node
/**
 * After the sample services are compiled (`npm run build`), links the npm packages they import
 * into each compiled folder's own node_modules, so a folder stays self-contained: meshbox's Docker
 * runtime copies the service folder into the image (following symlinks), and the process runtime
 * finds the same files. Only what runs is linked: @grpc/grpc-js and its one eager dependency
 * (@grpc/proto-loader is loaded by grpc-js only for channelz, which the samples do not serve).
 */
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEPS = { caller: ['@grpc/grpc-js', '@js-sdsl/ordered-map'], greeter: ['@grpc/grpc-js', '@js-sdsl/ordered-map'] };
const require = createRequire(path.join(ROOT, 'package.json'));

for (const [service, packages] of Object.entries(DEPS)) {
  const folder = path.join(ROOT, 'dist/sample-services', service);
  if (!existsSync(folder)) continue;
  for (const name of packages) {
    const source = path.dirname(require.resolve(`${name}/package.json`));
    const link = path.join(folder, 'node_modules', name);
    mkdirSync(path.dirname(link), { recursive: true });
    rmSync(link, { recursive: true, force: true });
    symlinkSync(source, link, 'dir');
  }
}
