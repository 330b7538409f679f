/**
 * When meshbox runs out of file descriptors its health probes cannot open a socket; that must
 * not mark the apps unhealthy (every workload at once), and it must be reported as meshbox's
 * problem. Real descriptors, really exhausted, in a child process with a low `ulimit -n`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHECKER = path.join(ROOT, 'dist/sandbox/control/health-checker.js');
const CHILD = path.join(ROOT, 'test/fixtures/health/fd-exhaustion-child.mjs');

interface ChildReport {
  exhausted: string;
  held: number;
  changes: Array<{ healthy: boolean; reason?: string }>;
  notProbed: Array<{ id: string; code: string; message: string }>;
  healthyAtEnd: boolean;
}

describe('health checks when meshbox is out of file descriptors', () => {
  it('keep the app healthy and report EMFILE as meshbox running out of descriptors', () => {
    if (!existsSync(CHECKER)) throw new Error(`${CHECKER} is missing: run \`npm run build\` first`);
    const run = spawnSync('sh', ['-c', 'ulimit -n 128 && exec "$0" "$@"', process.execPath, CHILD, CHECKER], { encoding: 'utf8', timeout: 20_000 });
    expect(run.status, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as ChildReport;
    expect(report.exhausted).toBe('EMFILE');
    expect(report.held).toBeGreaterThan(10);
    // became healthy once, and never unhealthy while no socket could be opened
    expect(report.changes).toEqual([{ healthy: true, reason: undefined }]);
    expect(report.healthyAtEnd).toBe(true);
    // reported once for the episode, as meshbox's problem, not the app's
    expect(report.notProbed).toHaveLength(1);
    expect(report.notProbed[0]!.code).toBe('MESH_ERR_FD_EXHAUSTED');
    expect(report.notProbed[0]!.message).toMatch(/meshbox ran out of file descriptors \(EMFILE\)/);
  });
});
