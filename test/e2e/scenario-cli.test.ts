/**
 * Chaos scenarios through the CLI, as a user or CI runs them: the shipped scenarios on the
 * process runtime (exit 0, a JUnit report, a JSON journal, nothing left running), the one that is
 * expected to fail (exit 1 with a clear report), a malformed one (rejected before anything
 * starts), and a scenario attached to a sandbox started by `meshbox up`.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../sandbox/chaos/scenario-result.js';
import { interrupt, ROOT, runCli, startCli, type CliRun } from '../helpers/cli.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshbox-scenarios-'));
/** what went wrong, first: the verdict lines and failed checks of a run's output */
function problems(output: string): string {
  const lines = output.split('\n');
  return [...lines.filter((l) => /^(FAIL|ERROR) |✗|!|replay:/.test(l)), '...', ...lines.slice(-15)].join('\n');
}

const shipped = readdirSync(path.join(ROOT, 'scenarios'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => path.join('scenarios', f));

/** processes whose environment names one of these sandboxes */
function processesOf(sandboxes: readonly string[]): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (sandboxes.some((id) => env.includes(`MESHBOX_SANDBOX=${id}\0`))) found.push(pid);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

const running: CliRun[] = [];
afterAll(async () => {
  for (const r of running) await interrupt(r);
});

describe('meshbox scenario (process runtime)', () => {
  it('runs every shipped scenario: exit 0, a JUnit report and a JSON journal, nothing left running', { timeout: 300_000 }, async () => {
    const junit = path.join(tmp, 'junit.xml');
    const json = path.join(tmp, 'report.json');
    const started = Date.now();
    const { code, output } = await runCli(['scenario', 'run', ...shipped, '--runtime', 'process', '--report', junit, '--json', json]);
    const elapsed = Date.now() - started;
    expect(code, problems(output)).toBe(0);
    for (const file of shipped) expect(output).toContain(`(${file}, seed `);
    expect(output.match(/^PASS /gm)).toHaveLength(shipped.length);
    expect(output).toMatch(new RegExp(`${shipped.length} scenarios: ${shipped.length} passed, 0 failed, 0 errors in `));

    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="meshbox scenarios" tests="\d+" failures="0" errors="0" skipped="0"/);
    expect(xml.match(/<testsuite /g)).toHaveLength(shipped.length);
    expect(xml).toContain('<property name="seed" value="42"/>');
    expect(xml).toContain('<property name="runtime" value="process"/>');

    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    expect(report.status).toBe('passed');
    expect(report.scenarios.map((s) => s.file)).toEqual(shipped);
    for (const s of report.scenarios) {
      expect(s.status, `${s.file}: ${s.reason}`).toBe('passed');
      expect(s.target?.runtime).toBe('process');
      for (const step of s.steps) expect(step.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(processesOf(report.scenarios.map((s) => s.target!.id))).toEqual([]);
    // the whole set stays short (about a minute and a half on 2 cores)
    expect(elapsed).toBeLessThan(240_000);
  });

  it('a scenario whose assertion cannot hold exits 1 with what was expected, what was seen and the replay command', { timeout: 120_000 }, async () => {
    const junit = path.join(tmp, 'failing.xml');
    const file = 'scenarios/failing/retries-cannot-mask-a-dead-callme.yaml';
    const { code, output } = await runCli(['scenario', 'run', file, '--runtime', 'process', '--report', junit]);
    expect(code, output).toBe(1);
    expect(output).toMatch(/✗ success rate at the ingress gateway: expected at least 95%, saw 0% over \d+ requests in load "doomed"/);
    expect(output).toMatch(/status 503: \d+/);
    expect(output).toMatch(/^FAIL Expected to fail: retries cannot mask a callme that always fails in .* \(seed 99\): expect success-rate, attempts: success rate at the ingress gateway: expected at least 95%, saw 0%/m);
    expect(output).toContain(`replay: meshbox scenario run ${file} --seed 99 --runtime process`);
    expect(output).toContain('1 scenario: 0 passed, 1 failed, 0 errors');
    // the rollback ran
    expect(output).toMatch(/✓ remove fault dead-callme/);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toMatch(/<testsuites name="meshbox scenarios" tests="\d+" failures="1" errors="0"/);
    expect(xml).toContain('<failure message="success rate at the ingress gateway: expected at least 95%, saw 0% over');
  });

  it('a malformed scenario is rejected with file:line:col before anything starts', async () => {
    const bad = path.join(tmp, 'bad.yaml');
    writeFileSync(bad, 'title: bad\nmethod:\n  - type: load\n    rat: 10\n    duration: 1s\n');
    const started = Date.now();
    const { code, output } = await runCli(['scenario', 'run', 'scenarios/canary-split.yaml', bad, '--runtime', 'process', '--report', path.join(tmp, 'never.xml')]);
    expect(code).toBe(1);
    expect(output).toContain(`${bad}:3:5: error MB1106: method[0] needs one of \`rate\` or \`concurrency\``);
    expect(output).toContain(`${bad}:4:5: error MB1100: method[0]: unknown field \`rat\`\n    hint: did you mean \`rate\`?`);
    expect(output).toContain('1 of 2 scenario files is invalid (');
    expect(output).not.toContain('starting a sandbox');
    expect(existsSync(path.join(tmp, 'never.xml'))).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('validate and ls', async () => {
    const v = await runCli(['scenario', 'validate', 'scenarios', 'scenarios/failing']);
    expect(v.code, v.output).toBe(0);
    expect(v.output).toContain(`${shipped.length + 1} scenario files: 0 invalid`);
    const ls = await runCli(['scenario', 'ls']);
    expect(ls.code).toBe(0);
    expect(ls.output).toMatch(/scenarios\/canary-split\.yaml\s+Canary split 80\/20/);
    expect(ls.output).toMatch(/scenarios\/failing\/retries-cannot-mask-a-dead-callme\.yaml\s+.*\(expected to fail/);
  });

  it('attaches to a sandbox started by meshbox up: faults through its admin API, traffic from its metrics, the fault removed after', { timeout: 120_000 }, async () => {
    const up = startCli(['up', '--headless', '--runtime', 'process', '--ingress-port', '0', '--admin-port', '0', '--no-access-log', '--no-logs', '--seed', '3']);
    running.push(up);
    await up.waitFor('meshbox is up', 60_000);
    const admin = /admin\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(up.output())![1]!;
    const file = path.join(tmp, 'attached.yaml');
    writeFileSync(
      file,
      `title: Attached
seed: 3
mesh: { attach: '${admin}' }
method:
  - type: load
    name: before
    rate: 20
    duration: 1s
    path: /caller/ping
  - type: fault
    name: teapot
    target: { service: callme-service }
    http: { abort: { httpStatus: 418 } }
  - type: load
    name: broken
    rate: 20
    duration: 1s
    path: /caller/ping
  - type: expect
    assertions:
      - { type: success-rate, window: { load: before }, min: 90 }
      - { type: error-rate, window: { load: broken }, status: 418, min: 99 }
      - { type: share, service: callme-service, window: { load: before }, version: v2, equals: 80, tolerance: 20 }
`,
    );
    const { code, output } = await runCli(['scenario', 'run', file]);
    expect(code, output).toBe(0);
    expect(output).toMatch(/attached to sample-[0-9a-f]+ ready in/);
    expect(output).toMatch(/✓ share of 418 answers at the ingress gateway: 100% over \d+ requests in load "broken"/);
    expect(output).toMatch(/✓ remove fault teapot/);
    const faults = JSON.parse((await fetch(`${admin}/faults`).then((r) => r.text())) || '{}') as { faults: unknown[] };
    expect(faults.faults).toEqual([]);
    expect(await interrupt(up)).toBe(0);
  });
});
