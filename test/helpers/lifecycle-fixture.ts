/**
 * Throwaway meshes for lifecycle tests: a folder with meshbox.yaml and one small app whose
 * behaviour the environment picks, so a test can have a healthy service beside a broken one.
 *
 *   MODE=ok        listens on PORT; GET /health answers 200
 *   MODE=fail500   listens on PORT; GET /health answers 500
 *   MODE=silent    never listens (health checks see connection refused)
 *   MODE=exit      prints "boom: <EXIT_MESSAGE>" on stderr and exits with EXIT_CODE (default 3)
 *
 * Every instance writes its pid to <pidDir>/<MESHBOX_INSTANCE>, so a test can check that each
 * process it caused is gone.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isAlive } from '../../sandbox/runtime/sandbox-state.js';

const APP = `
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
if (process.env.PID_DIR) fs.writeFileSync(path.join(process.env.PID_DIR, process.env.MESHBOX_INSTANCE), String(process.pid));
const mode = process.env.MODE || 'ok';
if (mode === 'exit') {
  console.log('starting');
  console.error('boom: ' + (process.env.EXIT_MESSAGE || 'missing config'));
  process.exit(Number(process.env.EXIT_CODE || 3));
} else if (mode === 'silent') {
  setInterval(() => undefined, 1000);
} else {
  const status = mode === 'fail500' ? 500 : 200;
  http.createServer((req, res) => res.writeHead(status).end(mode)).listen(Number(process.env.PORT), process.env.HOST);
}
process.on('SIGTERM', () => process.exit(0));
`;

export interface MeshFixture {
  dir: string;
  file: string;
  pidDir: string;
  stateDir: string;
  /** pids the instances wrote, by instance id */
  pids(): Record<string, number>;
  /** pids of those still alive */
  alive(): number[];
  cleanup(): void;
}

/** `yaml` may use {{PID_DIR}}; services run `node app.cjs` when given `command: [node, app.cjs]` */
export function meshFixture(yaml: string): MeshFixture {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-lifecycle-'));
  const pidDir = path.join(dir, 'pids');
  const stateDir = path.join(dir, 'state');
  mkdirSync(pidDir);
  mkdirSync(stateDir);
  writeFileSync(path.join(dir, 'app.cjs'), APP);
  const file = path.join(dir, 'meshbox.yaml');
  writeFileSync(file, yaml.replaceAll('{{PID_DIR}}', pidDir));
  const pids = (): Record<string, number> =>
    Object.fromEntries(readdirSync(pidDir).map((f) => [f, Number(readFileSync(path.join(pidDir, f), 'utf8'))]));
  return {
    dir,
    file,
    pidDir,
    stateDir,
    pids,
    alive: () => Object.values(pids()).filter((p) => isAlive(p)),
    cleanup() {
      for (const pid of Object.values(pids())) {
        try {
          if (isAlive(pid)) process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
