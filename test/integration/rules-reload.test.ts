/**
 * Hot reload of the rules folder on real files and real sockets: every save is validated with
 * validatePaths and applied as one snapshot, or rejected without touching the data plane.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../sandbox/config/findings.js';
import { validatePaths } from '../../sandbox/config/validate.js';
import { RulesReloader } from '../../sandbox/control/rules-reloader.js';
import type { EventOf, MeshEventType } from '../../sandbox/events.js';
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

// line 13 col 11 is `wieght`
const BAD_VS = vs('v1').replace('          weight: 100', '          wieght: 100');

let h: Harness;
let dir: string;
let reloader: RulesReloader;
let findings: Finding[] = [];
const client = 'client-v1-1';

function file(name: string): string {
  return path.join(dir, name);
}

/** the next event of `type` (matching `pred`) within `ms` */
function next<T extends MeshEventType>(type: T, pred: (e: EventOf<T>) => boolean = () => true, ms = 5000): Promise<EventOf<T>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} within ${ms}ms`));
    }, ms);
    const off = h.bus.on(type, (e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

/** lets late file events (chokidar reports a removal 100 ms late) and their reloads pass */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 250));
  await reloader.idle();
}

async function call(): Promise<{ instance: string; rule: string | undefined }> {
  const r = await h.request({ from: client, host: 'backend:8080', path: '/x' });
  return { instance: String(r.json()['instance']), rule: r.headers['x-rule'] as string | undefined };
}

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 1 } },
  ]);
  dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-rules-'));
  writeFileSync(file('10-dr.yaml'), DR);
  writeFileSync(file('20-vs.yaml'), vs('v1'));
  const initial = await validatePaths([dir], { mesh: h.mesh });
  await h.controlPlane.setResources(initial.resources, []);
  reloader = new RulesReloader({ bus: h.bus, controlPlane: h.controlPlane, mesh: () => h.mesh, onFindings: (f) => (findings = f) });
  reloader.adopt(dir, initial);
  await reloader.start();
});

afterAll(async () => {
  await reloader?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('rules folder hot reload', () => {
  it('applies a save as one snapshot; the event carries the version and the changed resource', async () => {
    expect((await call()).instance).toBe('backend-v1-1');
    const applied = next('mesh:config:applied');
    const before = h.controlPlane.current!.version;
    writeFileSync(file('20-vs.yaml'), vs('v2'));
    const e = await applied;
    expect(e.version).toBeGreaterThan(before);
    expect(e.changed).toEqual(['changed VirtualService/default/backend']);
    expect(await call()).toEqual({ instance: 'backend-v2-1', rule: 'v2' });
  });

  it('an invalid save changes nothing in the data plane and reports file:line:col, code and hint', async () => {
    const version = h.controlPlane.current!.version;
    const rejected = next('mesh:config:rejected');
    writeFileSync(file('20-vs.yaml'), BAD_VS);
    const e = await rejected;
    expect(e.findings).toHaveLength(1);
    expect(e.findings[0]).toMatchObject({ severity: 'error', code: 'MB1100', location: { file: file('20-vs.yaml'), line: 13, col: 11 } });
    expect(e.findings[0]!.hint).toContain('weight');
    await reloader.idle();
    expect(h.controlPlane.current!.version).toBe(version);
    // the last good version of the file keeps serving
    expect(await call()).toEqual({ instance: 'backend-v2-1', rule: 'v2' });
    // and the error stays visible
    expect(findings.filter((f) => f.severity === 'error').map((f) => f.code)).toEqual(['MB1100']);
    expect((reloader.status()['rejected'] as Array<{ file: string; keepsLastGood: boolean }>)[0]).toMatchObject({ file: file('20-vs.yaml'), keepsLastGood: true });
  });

  it('other files still apply while one is broken, analyzed with the broken file’s last good version', async () => {
    const applied = next('mesh:config:applied');
    writeFileSync(file('10-dr.yaml'), DR.replace('    - { name: v2, labels: { version: v2 } }\n', '    - { name: v2, labels: { version: v2 } }\n    - { name: canary, labels: { version: v2 } }\n'));
    const e = await applied;
    expect(e.changed).toEqual(['changed DestinationRule/default/backend']);
    expect(await call()).toEqual({ instance: 'backend-v2-1', rule: 'v2' });
    expect(findings.map((f) => f.code)).toEqual(['MB1100']);
  });

  it('a later good save clears the error', async () => {
    const applied = next('mesh:config:applied');
    const fixed = next('mesh:notice', (n) => n.message.includes('errors fixed'));
    writeFileSync(file('20-vs.yaml'), vs('v1', 'fixed'));
    await applied;
    await fixed;
    expect(findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(reloader.status()['rejected']).toEqual([]);
    expect(await call()).toEqual({ instance: 'backend-v1-1', rule: 'fixed' });
  });

  it('a new file with errors applies nothing of itself and leaves the rest alone', async () => {
    const version = h.controlPlane.current!.version;
    const rejected = next('mesh:config:rejected');
    writeFileSync(file('30-new.yaml'), vs('v2', 'new').replace('name: backend', 'name: other').replace('hosts: [backend]', 'hosts: [backend, 42]'));
    const e = await rejected;
    expect(e.findings[0]!.location?.file).toBe(file('30-new.yaml'));
    await reloader.idle();
    expect(h.controlPlane.current!.version).toBe(version);
    expect((reloader.status()['rejected'] as Array<{ keepsLastGood: boolean }>)[0]!.keepsLastGood).toBe(false);
    unlinkSync(file('30-new.yaml'));
    await eventually(() => (reloader.status()['rejected'] as unknown[]).length === 0, 5000, 'the rejection to go with the file');
    await settle();
  });

  it('an editor’s save through a temp file and a rename applies once; temp files are never read', async () => {
    const generation = reloader.generation;
    writeFileSync(file('.20-vs.yaml.swp'), 'not yaml: [');
    writeFileSync(file('20-vs.yaml~'), 'backup');
    writeFileSync(file('20-vs.yaml.tmp'), vs('v2', 'atomic'));
    await new Promise((r) => setTimeout(r, 300));
    expect(reloader.generation, JSON.stringify(reloader.lastOutcome)).toBe(generation);
    const applied = next('mesh:config:applied');
    renameSync(file('20-vs.yaml.tmp'), file('20-vs.yaml'));
    await applied;
    expect(await call()).toEqual({ instance: 'backend-v2-1', rule: 'atomic' });
    expect(JSON.stringify(findings)).not.toMatch(/swp|~|\.tmp/);
    unlinkSync(file('.20-vs.yaml.swp'));
    unlinkSync(file('20-vs.yaml~'));
    await settle();
  });

  it('a save caught between truncate and write (an empty file for a moment) never drops the file’s rules', async () => {
    const versions: number[] = [];
    const off = h.bus.on('mesh:config:applied', (e) => versions.push(e.version));
    const kinds: string[][] = [];
    const offKinds = h.bus.on('mesh:config:applied', () => kinds.push(h.controlPlane.appliedResources.map((r) => r.kind)));
    writeFileSync(file('20-vs.yaml'), '');
    await new Promise((r) => setTimeout(r, 60));
    writeFileSync(file('20-vs.yaml'), vs('v2', 'two-step'));
    await eventually(async () => (await call()).rule === 'two-step', 5000, 'the completed save');
    await settle();
    off();
    offKinds();
    // the completed save was applied, as one snapshot or a few in order, the last one serving now
    expect(versions.length).toBeGreaterThanOrEqual(1);
    expect(versions).toEqual([...new Set(versions)].sort((a, b) => a - b));
    expect(versions.at(-1)).toBe(h.controlPlane.current!.version);
    expect(kinds).toHaveLength(versions.length);
    for (const k of kinds) expect(k).toContain('VirtualService');
    // a file that stays empty is what the user meant: its rules go
    const removed = next('mesh:config:applied', (e) => e.changed.includes('removed VirtualService/default/backend'));
    writeFileSync(file('20-vs.yaml'), '');
    await removed;
    writeFileSync(file('20-vs.yaml'), vs('v2', 'atomic'));
    await eventually(async () => (await call()).rule === 'atomic', 5000, 'the rules back');
    await settle();
  });

  it('a renamed file keeps its rules (with the new source), nothing is removed', async () => {
    const changes: string[][] = [];
    const off = h.bus.on('mesh:config:applied', (e) => changes.push(e.changed));
    renameSync(file('20-vs.yaml'), file('25-vs.yaml'));
    await eventually(() => h.controlPlane.appliedResources.find((r) => r.kind === 'VirtualService')?.source.file === file('25-vs.yaml'), 5000, 'the new source');
    await settle();
    off();
    expect(changes.flat().filter((c) => c.startsWith('removed'))).toEqual([]);
    expect(await call()).toEqual({ instance: 'backend-v2-1', rule: 'atomic' });
  });

  it('deleting a rule file removes its routes', async () => {
    const applied = next('mesh:config:applied', (e) => e.changed.includes('removed VirtualService/default/backend'));
    unlinkSync(file('25-vs.yaml'));
    await applied;
    expect(h.controlPlane.appliedResources.map((r) => r.kind)).toEqual(['DestinationRule']);
    // Istio's default route again: both versions answer, without the rule's header
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const r = await call();
      expect(r.rule).toBeUndefined();
      seen.add(r.instance);
    }
    expect([...seen].sort()).toEqual(['backend-v1-1', 'backend-v2-1']);
  });

  it('a burst of saves is coalesced: far fewer snapshots than saves, and the last save wins', async () => {
    const applied: number[] = [];
    const off = h.bus.on('mesh:config:applied', (e) => applied.push(e.version));
    for (let i = 1; i <= 20; i++) {
      writeFileSync(file('20-vs.yaml'), vs(i % 2 ? 'v1' : 'v2', `save-${i}`));
      await new Promise((r) => setTimeout(r, 3));
    }
    await eventually(async () => (await call()).rule === 'save-20', 5000, 'the last save');
    await new Promise((r) => setTimeout(r, 300));
    await reloader.idle();
    off();
    expect(applied.length).toBeGreaterThanOrEqual(1);
    expect(applied.length).toBeLessThanOrEqual(4);
    expect(await call()).toEqual({ instance: 'backend-v2-1', rule: 'save-20' });
  });

  it('a deleted rules folder keeps the applied rules and says so; when it is back its files apply', async () => {
    const version = h.controlPlane.current!.version;
    const rejected = next('mesh:config:rejected');
    rmSync(dir, { recursive: true });
    const e = await rejected;
    expect(e.findings[0]).toMatchObject({ code: 'MB1009', severity: 'error' });
    expect(e.findings[0]!.message).toContain('does not exist any more');
    expect(findings.some((f) => f.code === 'MB1009')).toBe(true);
    expect(h.controlPlane.current!.version).toBe(version);
    expect((await call()).rule).toBe('save-20');

    const applied = next('mesh:config:applied', () => true, 8000);
    mkdirSync(dir);
    writeFileSync(file('10-dr.yaml'), DR);
    writeFileSync(file('20-vs.yaml'), vs('v1', 'restored'));
    await applied;
    await eventually(async () => (await call()).rule === 'restored', 5000, 'the restored rules');
    expect(findings.some((f) => f.code === 'MB1009')).toBe(false);
  });
});
