/**
 * The code watcher on real files with real build commands (the restarts themselves are counted,
 * not run): a change builds once and restarts every workload of the service; a failed build
 * restarts nothing; changes during a build make exactly one more round; a watch path that does
 * not exist is reported and picked up once it exists; a build that writes what it watches stops.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MeshDefinition, WatchSpec } from '../../sandbox/config/mesh-types.js';
import { buildPath, CodeWatcher } from '../../sandbox/control/code-watcher.js';
import type { Rollout, RolloutResult } from '../../sandbox/control/rollout.js';
import { EventBus, type NoticeEvent } from '../../sandbox/events.js';
import { meshDefinition } from '../helpers/mesh-harness.js';
import { eventually } from '../helpers/reload-fixture.js';

let dir: string;
let bus: EventBus;
let notices: NoticeEvent[];
let restarts: string[];
let watcher: CodeWatcher;

const rollout = {
  exclusive: <T>(fn: () => Promise<T>): Promise<T> => fn(),
  restartWorkload: async (workload: string): Promise<RolloutResult> => {
    restarts.push(workload);
    return { ok: true, steps: [`${workload}-1 restarted in place`] };
  },
} as unknown as Rollout;

function meshWith(watch: Partial<WatchSpec>): MeshDefinition {
  const mesh = meshDefinition([{ name: 'svc', versions: { v1: 1, v2: 2 } }]);
  mesh.services[0]!.watch = { paths: [path.join(dir, 'src')], ignore: [], action: 'restart', cwd: dir, ...watch };
  return mesh;
}

async function start(mesh: MeshDefinition): Promise<void> {
  watcher = new CodeWatcher({ bus, rollout, mesh: () => mesh, debounceMs: 50 });
  await watcher.update(mesh);
}

function rounds(): number {
  return (watcher.status()[0]?.['rounds'] as number | undefined) ?? 0;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-code-'));
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src', 'main.ts'), 'export {};\n');
  bus = new EventBus();
  notices = [];
  restarts = [];
  bus.on('mesh:notice', (n) => notices.push(n));
});

afterEach(async () => {
  await watcher?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('code watcher', () => {
  it('a change builds once, then restarts every workload of the service', async () => {
    await start(meshWith({ action: 'rebuild', build: ['/bin/sh', '-c', 'echo built > out.txt'] }));
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const a = 1;\n');
    writeFileSync(path.join(dir, 'src', 'other.ts'), 'export const b = 2;\n');
    await eventually(() => restarts.length === 2, 10_000, 'the restarts');
    await watcher.idle();
    expect(restarts.sort()).toEqual(['svc-v1', 'svc-v2']);
    expect(rounds()).toBe(1);
    expect(notices.map((n) => n.message).join('\n')).toMatch(/svc: .*main\.ts.* changed: building \(echo built > out\.txt\)[\s\S]*svc: built in [\d.]+s[\s\S]*svc: restarted in/);
  });

  it('a failed build restarts nothing and reports the end of its output', async () => {
    await start(meshWith({ action: 'rebuild', build: ['/bin/sh', '-c', 'echo "src/main.ts(1,1): error TS1005: oops" >&2; exit 2'] }));
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const a = ;\n');
    const failed = await eventually(() => notices.find((n) => n.message.includes('build failed')), 10_000, 'the build failure');
    await watcher.idle();
    expect(restarts).toEqual([]);
    expect(failed.level).toBe('error');
    expect(failed.message).toContain('exit code 2');
    expect(failed.message).toContain('the running instances keep serving');
    expect(failed.hint).toContain('error TS1005: oops');
  });

  it('a build command that does not exist is a failed build with its reason', async () => {
    await start(meshWith({ action: 'rebuild', build: ['no-such-build-tool-xyz', '--fast'] }));
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const x = 1;\n');
    const failed = await eventually(() => notices.find((n) => n.message.includes('build failed')), 10_000, 'the build failure');
    expect(failed.message).toMatch(/no-such-build-tool-xyz.*ENOENT/);
    expect(restarts).toEqual([]);
  });

  it('changes during a build make exactly one more round', async () => {
    await start(meshWith({ action: 'rebuild', build: ['/bin/sh', '-c', 'sleep 0.4'] }));
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const a = 1;\n');
    await eventually(() => watcher.status()[0]!['state'] === 'building', 5000, 'the build');
    for (let i = 0; i < 5; i++) {
      writeFileSync(path.join(dir, 'src', `f${i}.ts`), `export const f = ${i};\n`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await eventually(() => rounds() === 2 && restarts.length === 4, 10_000, 'the second round');
    await new Promise((r) => setTimeout(r, 300));
    await watcher.idle();
    expect(rounds()).toBe(2);
  });

  it('ignore patterns, editor temp files and node_modules never trigger', async () => {
    await start(meshWith({ paths: [path.join(dir, 'src', '**', '*.ts')], ignore: [path.join(dir, '**', '*.test.ts')] }));
    mkdirSync(path.join(dir, 'src', 'node_modules'));
    writeFileSync(path.join(dir, 'src', 'node_modules', 'dep.ts'), 'x');
    writeFileSync(path.join(dir, 'src', 'main.test.ts'), 'x');
    writeFileSync(path.join(dir, 'src', '.main.ts.swp'), 'x');
    writeFileSync(path.join(dir, 'src', 'notes.md'), 'x');
    await new Promise((r) => setTimeout(r, 400));
    expect(rounds()).toBe(0);
    writeFileSync(path.join(dir, 'src', 'deep.ts'), 'export {};\n');
    await eventually(() => rounds() === 1, 5000, 'a round for a matching file');
  });

  it('a watch path that does not exist is reported, and watched once it exists', async () => {
    await start(meshWith({ paths: [path.join(dir, 'later', '**', '*.ts')] }));
    const warn = notices.find((n) => n.level === 'warn');
    expect(warn?.message).toContain(`watch path ${path.join(dir, 'later', '**', '*.ts')} matches nothing: ${path.join(dir, 'later')} does not exist`);
    expect(warn?.hint).toContain('watch.paths');
    expect(watcher.status()[0]!['missing']).toEqual([path.join(dir, 'later')]);
    mkdirSync(path.join(dir, 'later'));
    await eventually(() => (watcher.status()[0]!['missing'] as string[]).length === 0, 5000, 'the folder to be watched');
    writeFileSync(path.join(dir, 'later', 'a.ts'), 'export {};\n');
    await eventually(() => restarts.length === 2, 5000, 'the restarts');
  });

  it('a build that keeps changing the files it watches is stopped after three rounds, with a hint', async () => {
    await start(meshWith({ action: 'rebuild', build: ['/bin/sh', '-c', 'date +%s%N > src/generated.ts'] }));
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const a = 1;\n');
    const stop = await eventually(() => notices.find((n) => n.message.includes('watching stopped')), 20_000, 'the loop to be stopped');
    expect(stop.message).toContain('generated.ts');
    expect(stop.hint).toContain('watch.ignore');
    expect(watcher.status()[0]!['state']).toBe('stopped');
    const count = rounds();
    writeFileSync(path.join(dir, 'src', 'main.ts'), 'export const a = 2;\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(rounds()).toBe(count);
  });

  it('builds find tools in node_modules/.bin of the service folder and its parents, as npm scripts do', () => {
    mkdirSync(path.join(dir, 'node_modules', '.bin'), { recursive: true });
    mkdirSync(path.join(dir, 'svc'));
    const p = buildPath(path.join(dir, 'svc'), '/usr/bin');
    expect(p.split(path.delimiter)[0]).toBe(path.join(dir, 'node_modules', '.bin'));
    expect(p.endsWith('/usr/bin')).toBe(true);
  });
});
