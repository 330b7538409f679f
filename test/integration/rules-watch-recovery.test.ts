/**
 * The rules watcher on real files, real symlinks and real deletions: it never goes blind. A
 * symlink loop (in the folder or on a rule file), a folder deleted and recreated: saves keep being
 * applied, or meshbox says the watch stopped; an unreadable rule file keeps its last good version.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validatePaths } from '../../sandbox/config/validate.js';
import { RulesReloader } from '../../sandbox/control/rules-reloader.js';
import type { MeshEvent } from '../../sandbox/events.js';
import { startHarness, type Harness } from '../helpers/mesh-harness.js';
import { eventually } from '../helpers/reload-fixture.js';

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
`;

function vs(subset: string, tag = subset): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: backend
spec:
  hosts: [backend]
  http:
    - headers:
        response:
          set: { x-rule: "${tag}" }
      route:
        - destination: { host: backend, subset: ${subset} }
          weight: 100
`;
}

let h: Harness;
let base: string;
let dir: string;
let reloader: RulesReloader;
const notices: Array<Extract<MeshEvent, { type: 'mesh:notice' }>> = [];
const client = 'client-v1-1';

const file = (name: string): string => path.join(dir, name);

async function rule(): Promise<string | undefined> {
  const r = await h.request({ from: client, host: 'backend:8080', path: '/x' });
  return r.headers['x-rule'] as string | undefined;
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  await reloader.idle();
}

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 1 } },
  ]);
  base = mkdtempSync(path.join(os.tmpdir(), 'meshbox-rules-watch-'));
  dir = path.join(base, 'rules');
  mkdirSync(dir);
  writeFileSync(file('10-dr.yaml'), DR);
  writeFileSync(file('20-vs.yaml'), vs('v1', 'first'));
  const initial = await validatePaths([dir], { mesh: h.mesh });
  await h.controlPlane.setResources(initial.resources, []);
  h.bus.on('mesh:notice', (e) => void notices.push(e));
  reloader = new RulesReloader({ bus: h.bus, controlPlane: h.controlPlane, mesh: () => h.mesh, onFindings: () => undefined });
  reloader.adopt(dir, initial);
  await reloader.start();
});

afterAll(async () => {
  await reloader?.close();
  await h?.close();
  rmSync(base, { recursive: true, force: true });
});

describe('rules watcher: symlink loops and a recreated folder', () => {
  it('a rule file turned into a symlink loop keeps its last good version, and says why', async () => {
    expect(await rule()).toBe('first');
    const before = notices.length;
    unlinkSync(file('20-vs.yaml'));
    symlinkSync(file('20-vs.yaml'), file('20-vs.yaml'));
    await eventually(() => notices.slice(before).some((n) => n.message.includes('20-vs.yaml') && n.level === 'error'), 5000, 'a notice about 20-vs.yaml');
    await settle();
    expect(await rule()).toBe('first');
    expect(h.controlPlane.appliedResources.map((r) => r.kind).sort()).toEqual(['DestinationRule', 'VirtualService']);
    const rejected = reloader.status()['rejected'] as Array<{ file: string; keepsLastGood: boolean; errors: Array<{ message: string }> }>;
    const entry = rejected.find((r) => r.file === file('20-vs.yaml'));
    expect(entry?.keepsLastGood).toBe(true);
    expect(JSON.stringify(entry?.errors)).toMatch(/symlink|ELOOP|loop/i);
    // a real file again: applied
    unlinkSync(file('20-vs.yaml'));
    writeFileSync(file('20-vs.yaml'), vs('v2', 'after-loop'));
    await eventually(async () => (await rule()) === 'after-loop', 5000, 'the save after the loop');
  });

  it('after a symlink loop in the folder and the folder deleted and recreated at once, every save is applied (5 rounds)', async () => {
    for (let round = 1; round <= 5; round++) {
      symlinkSync(dir, file('loop'));
      symlinkSync(file('a.yaml'), file('b.yaml'));
      symlinkSync(file('b.yaml'), file('a.yaml'));
      await new Promise((r) => setTimeout(r, 100));
      // deleted and recreated faster than the watch notices
      rmSync(dir, { recursive: true });
      mkdirSync(dir);
      writeFileSync(file('10-dr.yaml'), DR);
      writeFileSync(file('20-vs.yaml'), vs('v1', `restored-${round}`));
      await eventually(async () => (await rule()) === `restored-${round}`, 8000, `round ${round}: the recreated folder applied`);
      await settle();
      writeFileSync(file('20-vs.yaml'), vs('v2', `saved-${round}`));
      await eventually(async () => (await rule()) === `saved-${round}`, 5000, `round ${round}: a save in the recreated folder`);
      expect(reloader.status()['watching']).toBe(true);
    }
  }, 90_000);

  it('a folder deleted, seen missing, then recreated: status says so meanwhile, and saves apply after', async () => {
    rmSync(dir, { recursive: true });
    await eventually(() => reloader.status()['watching'] === false, 5000, 'the folder seen missing');
    mkdirSync(dir);
    writeFileSync(file('10-dr.yaml'), DR);
    writeFileSync(file('20-vs.yaml'), vs('v1', 'back'));
    await eventually(async () => (await rule()) === 'back', 8000, 'the folder back');
    await settle();
    writeFileSync(file('20-vs.yaml'), vs('v2', 'saved-after-back'));
    await eventually(async () => (await rule()) === 'saved-after-back', 5000, 'a save after the folder came back');
    expect(reloader.status()['watching']).toBe(true);
  });

  it('a symlink loop in the folder is not a watch failure: no "stopped watching" notice', () => {
    expect(notices.filter((n) => /stopped watching|cannot watch/.test(n.message))).toEqual([]);
  });

  it('a watch that fails says it stopped (status: watching false, with why), is tried again, and applies saves once back', async () => {
    const before = notices.length;
    // chokidar reports an error for the watched folder itself as it does when the system's watch
    // limit is reached: it is emitted on the real chokidar watcher of the folder
    const roots = (reloader as unknown as { watcher: { roots: Array<{ watcher?: { emit(e: string, err: Error): void } }> } }).watcher.roots;
    roots[0]!.watcher!.emit('error', Object.assign(new Error('ENOSPC: System limit for number of file watchers reached, watch'), { code: 'ENOSPC' }));
    expect(reloader.status()).toMatchObject({ watching: false, notWatched: expect.stringContaining('ENOSPC') });
    const stopped = notices.slice(before).find((n) => n.message.includes('stopped watching the rules folder'));
    expect(stopped?.level).toBe('error');
    expect(stopped?.hint).toMatch(/max_user_watches/);
    await eventually(() => notices.slice(before).some((n) => n.message.startsWith('watching the rules folder') && n.message.includes('again')), 5000, 'the watch back');
    expect(reloader.status()['watching']).toBe(true);
    writeFileSync(file('20-vs.yaml'), vs('v1', 'after-watch-error'));
    await eventually(async () => (await rule()) === 'after-watch-error', 5000, 'a save after the watch came back');
  });
});
