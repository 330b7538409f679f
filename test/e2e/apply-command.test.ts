/**
 * `meshbox apply -f FILE` against a running sandbox (a copy of the sample mesh, through the CLI):
 * validates like `meshbox validate`, refuses invalid files, writes into the rules folder, and the
 * sandbox's watcher applies it under load without a failed request.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadGenerator } from '../../sandbox/chaos/load-generator.js';
import { ROOT, httpGet, interrupt, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { copySampleMesh, type SampleCopy } from '../helpers/reload-fixture.js';

const HOST = { host: 'caller.example.com' };

describe('meshbox apply', () => {
  let copy: SampleCopy;
  let run: CliRun;
  let ingress = '';
  let admin = '';
  let work = '';
  let env: Record<string, string> = {};

  beforeAll(async () => {
    copy = copySampleMesh();
    work = mkdtempSync(path.join(os.tmpdir(), 'meshbox-apply-'));
    env = { MESHBOX_STATE_DIR: copy.stateDir };
    const [ip, ap] = [await freePort(), await freePort()];
    ingress = `http://127.0.0.1:${ip}`;
    admin = `http://127.0.0.1:${ap}`;
    run = startCli(['up', '--headless', '--runtime', 'process', '--config', copy.meshFile, '--ingress-port', String(ip), '--admin-port', String(ap), '--seed', '5', '--no-logs', '--no-access-log'], env);
    await run.waitFor('meshbox is up', 45_000);
    await waitForHttp(`${admin}/ready`);
  });

  afterAll(async () => {
    if (run) await interrupt(run);
    copy?.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('refuses an invalid file with its findings (exit 1) and writes nothing', async () => {
    const bad = path.join(work, 'callme-service.yaml');
    writeFileSync(bad, copy.read('rules/callme-service.yaml').replace('weight: 80', 'wieght: 80'));
    const before = readdirSync(copy.rulesDir).map((f) => [f, readFileSync(path.join(copy.rulesDir, f), 'utf8')]);
    const r = await runCli(['apply', '-f', bad], env);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: error MB1100 .*unknown field \`wieght\``));
    expect(r.output).toContain('did you mean `weight`?');
    expect(r.output).toContain('not applied');
    expect(readdirSync(copy.rulesDir).map((f) => [f, readFileSync(path.join(copy.rulesDir, f), 'utf8')])).toEqual(before);
  }, 30_000);

  it('--dry-run validates and shows what would change, writing nothing', async () => {
    const file = path.join(work, 'callme-service.yaml');
    writeFileSync(file, copy.read('rules/callme-service.yaml').replace('weight: 80', 'weight: 70').replace('weight: 20', 'weight: 30'));
    const r = await runCli(['apply', '-f', file, '--dry-run'], env);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('VirtualService default/callme-service-route configured (dry run)');
    expect(r.output).toContain('DestinationRule default/callme-service-destination unchanged (dry run)');
    expect(r.output).toContain(`would write ${path.join(copy.rulesDir, 'callme-service.yaml')}`);
    expect(copy.read('rules/callme-service.yaml')).toContain('weight: 80');
  }, 30_000);

  it('writes the file into the rules folder; the sandbox applies it under load: every following request sees it, none fails', async () => {
    const file = path.join(work, 'callme-service.yaml');
    writeFileSync(file, copy.read('rules/callme-service.yaml').replace('weight: 80', 'weight: 0').replace('weight: 20', 'weight: 100'));
    const load = new LoadGenerator({ url: `${ingress}/caller/ping`, headers: HOST, rate: 100, connections: 8, durationMs: 60_000, timeoutMs: 15_000 });
    const running = load.start();
    await new Promise((r) => setTimeout(r, 500));
    const r = await runCli(['apply', '-f', file], env);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('VirtualService default/callme-service-route configured');
    expect(r.output).toMatch(/applied by sandbox \S+ in snapshot v\d+/);
    expect(copy.read('rules/callme-service.yaml')).toContain('weight: 100');
    // the folder stays the source of truth: no stray temp file
    expect(readdirSync(copy.rulesDir).filter((f) => f.startsWith('.'))).toEqual([]);
    for (let i = 0; i < 30; i++) {
      const res = await httpGet(`${ingress}/caller/ping`, HOST);
      expect(res.status).toBe(200);
      expect(res.body).toBe("I'm caller-service v1. Calling... I'm callme-service v1");
    }
    const result = await load.stop();
    await running;
    expect(result.errors, JSON.stringify(result.errorCounts)).toBe(0);
    expect(result.statusCounts).toEqual({ '200': result.completed });
  }, 60_000);

  it('an unchanged file is reported as up to date', async () => {
    const r = await runCli(['apply', '-f', path.join(work, 'callme-service.yaml')], env);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('is already up to date');
  }, 30_000);

  it('a resource already defined in another file is updated there, not shadowed by file order; the claim matches the traffic', async () => {
    // `aaa-` sorts before callme-service.yaml: a copy there used to lose to the old definition
    // while apply said "configured ... applied in snapshot vN"
    const current = copy.read('rules/callme-service.yaml');
    const vsDoc = current.split(/^---$/m).find((d) => d.includes('kind: VirtualService'))!;
    const swapped = vsDoc.replace(/weight: (\d+)/g, (_m, w: string) => `weight: ${100 - Number(w)}`);
    expect(swapped).not.toBe(vsDoc);
    const file = path.join(work, 'aaa-callme-override.yaml');
    writeFileSync(file, swapped);
    const r = await runCli(['apply', '-f', file], env);
    expect(r.code, r.output).toBe(0);
    const home = path.join(copy.rulesDir, 'callme-service.yaml');
    expect(r.output).toContain(`VirtualService default/callme-service-route configured in ${home}, where it is defined`);
    expect(r.output).toContain(`wrote ${home}`);
    expect(r.output).toMatch(/applied by sandbox \S+ in snapshot v\d+/);
    expect(existsSync(path.join(copy.rulesDir, 'aaa-callme-override.yaml'))).toBe(false);
    // the file's other document (the DestinationRule) and its comments stay
    const after = copy.read('rules/callme-service.yaml');
    expect(after).toContain('kind: DestinationRule');
    expect(after).toContain('# Subsets: the versions a route can name.');
    const bodies = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const res = await httpGet(`${ingress}/caller/ping`, HOST);
      expect(res.status).toBe(200);
      bodies.add(res.body);
    }
    // the previous test sent everything to v1; the swap sends everything to v2
    expect([...bodies]).toEqual(["I'm caller-service v1. Calling... I'm callme-service v2"]);
    const again = await runCli(['apply', '-f', file, '--dry-run'], env);
    expect(again.output).toContain('VirtualService default/callme-service-route unchanged in');
    expect(again.output).toContain('would write nothing');
  }, 60_000);

  it('--rules writes into any folder without a sandbox; without one and without --rules it says what to do', async () => {
    const folder = path.join(work, 'other-rules');
    const file = path.join(work, 'gw.yaml');
    writeFileSync(file, copy.read('rules/caller-service.yaml'));
    const ok = await runCli(['apply', '-f', file, '--rules', folder, '--admin', `http://127.0.0.1:${await freePort()}`], env);
    expect(ok.code, ok.output).toBe(0);
    expect(ok.output).toContain(`created the rules folder ${folder}`);
    expect(existsSync(path.join(folder, 'gw.yaml'))).toBe(true);

    const none = await runCli(['apply', '-f', file, '--admin', `http://127.0.0.1:${await freePort()}`], { MESHBOX_STATE_DIR: work });
    expect(none.code).toBe(1);
    expect(none.output).toContain('MESH_ERR_ADMIN_UNREACHABLE');
    expect(none.output).toMatch(/--rules DIR or --config meshbox\.yaml/);
  }, 30_000);

  it('refuses a resource also defined in a rules file that has errors, naming that file', async () => {
    const folder = path.join(work, 'broken-rules');
    mkdirSync(folder);
    const vs = ['apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata: {name: shop}', 'spec:', '  hosts: [shop]', '  http:', '  - route: [{destination: {host: shop}}]'];
    writeFileSync(path.join(folder, 'shop.yaml'), [...vs, '    timeout: 5', ''].join('\n'));
    const file = path.join(work, 'aaa-shop.yaml');
    writeFileSync(file, [...vs, '    timeout: 5s', ''].join('\n'));
    const r = await runCli(['apply', '-f', file, '--rules', folder, '--admin', `http://127.0.0.1:${await freePort()}`], env);
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain(`not applied: VirtualService default/shop is also defined in ${path.join(folder, 'shop.yaml')}, which has errors`);
    expect(readdirSync(folder)).toEqual(['shop.yaml']);
  }, 30_000);

  it('names each field it accepts but does not apply, with file:line:col, and still applies the file', async () => {
    const file = path.join(ROOT, 'test', 'fixtures', 'config', 'not-applied', 'every-field.yaml');
    const folder = path.join(work, 'not-applied-rules');
    const r = await runCli(['apply', '-f', file, '--rules', folder, '--dry-run', '--admin', `http://127.0.0.1:${await freePort()}`], env);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain(`${file}:14:7: warning MB1117 [VirtualService default/shop-route]: spec.http[0].match[0].name is recognised but not applied by this meshbox version: access logs show the route name only`);
    expect(r.output).toContain(`${file}:126:11: warning MB1117 [Gateway default/shop-gateway]: spec.servers[0].tls.httpsRedirect is recognised but not applied by this meshbox version: plain HTTP requests are served, not redirected`);
    expect(r.output).toContain('VirtualService default/shop-route created (dry run)');
  }, 30_000);

  it('refuses a meshbox.yaml and a file name the rules folder would ignore', async () => {
    const mesh = await runCli(['apply', '-f', copy.meshFile], env);
    expect(mesh.code).toBe(64);
    expect(mesh.output).toContain('is a mesh definition (meshbox.yaml), not a rule file');
    const hidden = path.join(work, '.hidden.yaml');
    writeFileSync(hidden, copy.read('rules/caller-service.yaml'));
    const r = await runCli(['apply', '-f', hidden], env);
    expect(r.code).toBe(64);
    expect(r.output).toContain('is not a rule file name');
  }, 30_000);
});
