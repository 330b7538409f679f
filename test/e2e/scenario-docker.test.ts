/**
 * The shipped chaos scenarios on the Docker runtime, through the CLI: exit 0, a JUnit report,
 * no container left behind. Skipped locally (with a message) when no Docker daemon answers;
 * required in CI (see ../helpers/docker-available.ts). The security scenarios are among them
 * (mTLS, JWT at a sidecar and at the ingress gateway, ALLOW and DENY policies), so the Docker
 * runtime is held to the same security behaviour as the process runtime (scenario-cli.test.ts).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../sandbox/chaos/scenario-result.js';
import { ROOT, runCli } from '../helpers/cli.js';
import { dockerForTests, sandboxContainers } from '../helpers/docker-available.js';

const docker = await dockerForTests('chaos scenarios on the docker runtime');
/** what went wrong, first: the verdict lines and failed checks of a run's output */
function problems(output: string): string {
  const lines = output.split('\n');
  return [...lines.filter((l) => /^(FAIL|ERROR) |✗|!|replay:/.test(l)), '...', ...lines.slice(-15)].join('\n');
}

const shipped = readdirSync(path.join(ROOT, 'scenarios'))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => path.join('scenarios', f));

/** the security scenarios: they must stay in the shipped set this test runs */
const SECURITY = ['deny-path-rollback.yaml', 'ingress-gateway-jwt.yaml', 'jwt-required.yaml', 'sample-allow-v1-only.yaml', 'strict-mtls-refuses-plaintext.yaml'].map((f) => path.join('scenarios', f));

describe.skipIf(!docker.available)('meshbox scenario run --runtime docker', () => {
  it('runs the security scenarios too', () => {
    expect(shipped).toEqual(expect.arrayContaining(SECURITY));
  });

  it('passes every shipped scenario and removes every container', { timeout: 600_000 }, async () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshbox-scenarios-docker-'));
    const junit = path.join(tmp, 'junit.xml');
    const json = path.join(tmp, 'report.json');
    const { code, output } = await runCli(['scenario', 'run', ...shipped, '--runtime', 'docker', '--report', junit, '--json', json]);
    expect(code, problems(output)).toBe(0);
    expect(readFileSync(junit, 'utf8')).toMatch(/<testsuites name="meshbox scenarios" tests="\d+" failures="0" errors="0"/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as RunReport;
    expect(report.scenarios.map((s) => [s.file, s.status, s.target?.runtime])).toEqual(shipped.map((f) => [f, 'passed', 'docker']));
    for (const s of report.scenarios) expect(await sandboxContainers(s.target!.id)).toEqual([]);
  });
});
