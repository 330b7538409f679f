import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../sandbox/clock.js';
import { MeshCA } from '../../../sandbox/security/ca.js';
import { WorkloadCertManager } from '../../../sandbox/security/cert-manager.js';
import type { ProxySecret } from '../../../sandbox/security/tls-secrets.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** lets the issuing (WebCrypto, off the event loop) finish: polls until `done` or 5 s */
async function settle(done: () => boolean, tries = 100): Promise<void> {
  for (let i = 0; i < tries && !done(); i++) await new Promise((r) => setTimeout(r, 50));
}

describe('WorkloadCertManager', () => {
  it('rotates each certificate when half its lifetime is gone, pushing the whole set each time', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-cm-'));
    dirs.push(dir);
    const { ca } = await MeshCA.loadOrCreate(dir);
    const clock = new FakeClock(Date.now());
    const pushes: ProxySecret[][] = [];
    const m = new WorkloadCertManager({ ca, ttlMs: 60_000, clock, push: (s) => void pushes.push(s) });
    await m.ensure([
      { proxyId: 'a-1', identity: 'spiffe://cluster.local/ns/default/sa/a' },
      { proxyId: 'b-1', identity: 'spiffe://cluster.local/ns/default/sa/b' },
    ]);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.map((s) => s.proxyId).sort()).toEqual(['a-1', 'b-1']);
    const first = m.secrets().find((s) => s.proxyId === 'a-1')!;
    const at = m.nextRotation('a-1')!;
    // issued 1 s back-dated: rotation at notBefore + 30.5 s
    expect(at - Date.parse(first.notBefore)).toBe((Date.parse(first.notAfter) - Date.parse(first.notBefore)) / 2);
    clock.advance(at - clock.now() - 1_000);
    await settle(() => m.rotations('a-1') > 0, 6);
    expect(m.rotations('a-1')).toBe(0);
    clock.advance(2_000);
    await settle(() => m.rotations('a-1') > 0 && m.rotations('b-1') > 0);
    expect(m.rotations('a-1')).toBe(1);
    expect(m.rotations('b-1')).toBe(1);
    const second = m.secrets().find((s) => s.proxyId === 'a-1')!;
    expect(second.serial).not.toBe(first.serial);
    expect(Date.parse(second.notAfter)).toBeGreaterThan(Date.parse(first.notAfter));
    expect(pushes.length).toBeGreaterThanOrEqual(2);
    expect(pushes.at(-1)!.find((s) => s.proxyId === 'a-1')!.serial).toBe(second.serial);
    // an unchanged set issues and pushes nothing; a removed proxy is dropped
    const before = pushes.length;
    await m.ensure([{ proxyId: 'a-1', identity: 'spiffe://cluster.local/ns/default/sa/a' }]);
    expect(pushes.length).toBe(before + 1);
    expect(m.secrets().map((s) => s.proxyId)).toEqual(['a-1']);
    await m.ensure([{ proxyId: 'a-1', identity: 'spiffe://cluster.local/ns/default/sa/a' }]);
    expect(pushes.length).toBe(before + 1);
    m.close();
  });
});
