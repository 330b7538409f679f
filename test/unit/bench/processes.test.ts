import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../bench/proc-stats.js';
import { ProcessSet } from '../../bench/processes.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-processes-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ProcessSet', () => {
  it('stops a process once when stop is called concurrently, and leaves the others tracked', async () => {
    const set = new ProcessSet(dir);
    const a = set.start({ name: 'a', command: 'sleep', args: ['30'] });
    const b = set.start({ name: 'b', command: 'sleep', args: ['30'] });
    try {
      await Promise.all([set.stop(a), set.stop(a), set.stop(a)]);
      expect(a.done()).toBe(true);
      expect(isAlive(b.pid)).toBe(true);
      expect(set.running()).toEqual([{ name: 'b', pid: b.pid }]);
    } finally {
      await set.stopAll();
    }
    expect(b.done()).toBe(true);
    expect(set.running()).toEqual([]);
  });

  it('kills a process that ignores its stop signal after the grace period, and keeps its output', async () => {
    const set = new ProcessSet(dir);
    const stubborn = set.start({
      name: 'stubborn',
      command: process.execPath,
      args: ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"],
      graceMs: 200,
    });
    for (let i = 0; i < 100 && !stubborn.tail().includes('ready'); i++) await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await set.stop(stubborn);
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(stubborn.done()).toBe(true);
    expect(stubborn.tail()).toContain('ready');
  });
});
