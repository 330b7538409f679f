/**
 * Hot reload of meshbox.yaml on a running sandbox (a copy of the sample mesh, real processes):
 * only the workloads that changed are touched, scaling drains before it stops, and an invalid
 * save changes nothing and is reported until fixed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadGenerator } from '../../sandbox/chaos/load-generator.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { isPortOpen } from '../../sandbox/runtime/ports.js';
import { httpGet } from '../helpers/cli.js';
import { copySampleMesh, eventually, type SampleCopy } from '../helpers/reload-fixture.js';

const HOST = { host: 'caller.example.com' };

let copy: SampleCopy;
let sb: Sandbox;
const savedStateDir = process.env.MESHBOX_STATE_DIR;

function pids(): Record<string, number | undefined> {
  return Object.fromEntries(sb.registry.all().map((i) => [i.id, i.pid]));
}

function ids(): string[] {
  return sb.registry.all().map((i) => i.id).sort();
}

/** edits meshbox.yaml and waits until the reload it causes, and every rollout, is done */
async function saveMesh(from: string | RegExp, to: string): Promise<void> {
  const reloader = sb.hotReload!.meshFile;
  const generation = reloader.generation;
  copy.edit('meshbox.yaml', from, to);
  await eventually(() => reloader.generation > generation, 20_000, 'the meshbox.yaml reload');
  await sb.hotReload!.idle();
}

function steadyLoad(): LoadGenerator {
  const load = new LoadGenerator({ url: `${sb.ingressUrl}/caller/ping`, headers: HOST, rate: 80, connections: 8, durationMs: 120_000, timeoutMs: 15_000 });
  void load.start();
  return load;
}

beforeAll(async () => {
  copy = copySampleMesh();
  process.env.MESHBOX_STATE_DIR = copy.stateDir;
  sb = new Sandbox({ config: copy.meshFile, runtime: 'process', ingressPort: 0, adminPort: 0, accessLogDir: false, seed: 11 });
  await sb.up();
}, 60_000);

afterAll(async () => {
  await sb?.down();
  copy?.cleanup();
  if (savedStateDir === undefined) delete process.env.MESHBOX_STATE_DIR;
  else process.env.MESHBOX_STATE_DIR = savedStateDir;
});

describe('meshbox.yaml hot reload', () => {
  it('scaling a version up starts only the new instances', async () => {
    const before = pids();
    const applied = new Promise<string[]>((resolve) => {
      const off = sb.bus.on('mesh:config:applied', (e) => {
        off();
        resolve(e.changed);
      });
    });
    await saveMesh('v2: { replicas: 2, env: { VERSION: v2 } }', 'v2: { replicas: 3, env: { VERSION: v2 } }');
    expect(await applied).toEqual(['scaled Workload default/callme-service-v2 (2 -> 3)']);
    expect(ids()).toEqual(['caller-service-v1-1', 'callme-service-v1-1', 'callme-service-v2-1', 'callme-service-v2-2', 'callme-service-v2-3', 'greeter-service-v1-1', 'greeter-service-v2-1']);
    for (const [id, pid] of Object.entries(before)) expect(pids()[id], id).toBe(pid);
    const added = sb.registry.get('callme-service-v2-3')!;
    expect(added.healthy).toBe(true);
    const clusters = JSON.parse((await httpGet(`${sb.adminUrl}/clusters?format=json`)).body) as { clusters: Array<{ name: string; hosts: Array<{ id: string; healthy: boolean }> }> };
    const v2 = clusters.clusters.find((c) => c.name === 'outbound|8080|v2|callme-service.default.svc.cluster.local')!;
    expect(v2.hosts.map((h) => h.id).sort()).toEqual(['callme-service-v2-1', 'callme-service-v2-2', 'callme-service-v2-3']);
  }, 60_000);

  it('scaling down drains, then stops the highest ordinals; no request through the ingress fails; nothing else restarts', async () => {
    const before = pids();
    const gone = sb.registry.get('callme-service-v2-3')!;
    const load = steadyLoad();
    await new Promise((r) => setTimeout(r, 500));
    await saveMesh('v2: { replicas: 3, env: { VERSION: v2 } }', 'v2: { replicas: 1, env: { VERSION: v2 } }');
    await new Promise((r) => setTimeout(r, 500));
    const result = await load.stop();
    expect(result.errors, JSON.stringify(result.errorCounts)).toBe(0);
    expect(result.statusCounts).toEqual({ '200': result.completed });
    expect(ids()).toEqual(['caller-service-v1-1', 'callme-service-v1-1', 'callme-service-v2-1', 'greeter-service-v1-1', 'greeter-service-v2-1']);
    for (const id of ids()) expect(pids()[id], id).toBe(before[id]);
    // its sidecar listeners are closed with it
    expect(await isPortOpen(gone.sidecar.inbound)).toBe(false);
    expect(await isPortOpen(gone.sidecar.outbound)).toBe(false);
  }, 60_000);

  it('changing a workload’s env restarts only that workload; requests wait for the single replica instead of failing', async () => {
    const before = pids();
    const load = steadyLoad();
    await new Promise((r) => setTimeout(r, 500));
    await saveMesh(/(caller-service:[\s\S]*?v1: \{ replicas: 1, env: \{ VERSION: v1) \}/, '$1, GREETING: hi }');
    await new Promise((r) => setTimeout(r, 500));
    const result = await load.stop();
    expect(result.errors, JSON.stringify(result.errorCounts)).toBe(0);
    expect(result.statusCounts).toEqual({ '200': result.completed });
    const after = pids();
    expect(after['caller-service-v1-1']).not.toBe(before['caller-service-v1-1']);
    expect(after['callme-service-v1-1']).toBe(before['callme-service-v1-1']);
    expect(after['callme-service-v2-1']).toBe(before['callme-service-v2-1']);
    expect(sb.registry.get('caller-service-v1-1')!.workload.env).toEqual({ VERSION: 'v1', GREETING: 'hi' });
    expect(sb.registry.get('caller-service-v1-1')!.restarting).toBe(false);
  }, 60_000);

  it('adding a service starts its instances, removing it stops them; the others keep running', async () => {
    const before = pids();
    const service = `  echo-service:\n    port: 9090\n    command: [node, ../dist/sample-services/callme/main.js]\n    health: /actuator/health\n    versions:\n      v1: { replicas: 1, env: { VERSION: echo } }\n`;
    await saveMesh(/\n  callme-service:\n/, `\n${service}  callme-service:\n`);
    expect(ids()).toContain('echo-service-v1-1');
    expect(sb.registry.get('echo-service-v1-1')!.healthy).toBe(true);
    // existing sidecars got a listener for the new service
    expect(sb.registry.get('caller-service-v1-1')!.sidecar.services['echo-service']).toBeGreaterThan(0);
    expect(sb.mesh.services.map((s) => s.name)).toContain('echo-service');
    for (const [id, pid] of Object.entries(before)) expect(pids()[id], id).toBe(pid);

    const echo = sb.registry.get('echo-service-v1-1')!;
    await saveMesh(service, '');
    expect(ids()).not.toContain('echo-service-v1-1');
    expect(await isPortOpen(echo.sidecar.inbound)).toBe(false);
    for (const [id, pid] of Object.entries(before)) expect(pids()[id], id).toBe(pid);
    expect(sb.mesh.services.map((s) => s.name)).not.toContain('echo-service');
  }, 60_000);

  it('an invalid save changes nothing and is reported with file:line:col until a good save clears it', async () => {
    const before = pids();
    const version = sb.controlPlane.current!.version;
    const rejected = new Promise<unknown[]>((resolve) => {
      const off = sb.bus.on('mesh:config:rejected', (e) => {
        off();
        resolve(e.findings);
      });
    });
    const text = copy.read('meshbox.yaml');
    const line = text.split('\n').findIndex((l) => l.includes('replicas: 1, env: { VERSION: v2 }')) + 1;
    await saveMesh('v2: { replicas: 1, env: { VERSION: v2 } }', 'v2: { replicas: many, env: { VERSION: v2 } }');
    const findings = (await rejected) as Array<{ code: string; location?: { file: string; line: number } }>;
    expect(findings[0]).toMatchObject({ code: 'MB1101', location: { file: copy.meshFile, line } });
    expect(sb.ruleFindings.some((f) => f.code === 'MB1101' && f.location?.file === copy.meshFile)).toBe(true);
    expect(pids()).toEqual(before);
    expect(sb.controlPlane.current!.version).toBe(version);
    const status = JSON.parse((await httpGet(`${sb.adminUrl}/status`)).body) as { findings: Array<{ code: string }> };
    expect(status.findings.map((f) => f.code)).toContain('MB1101');

    await saveMesh('v2: { replicas: many, env: { VERSION: v2 } }', 'v2: { replicas: 1, env: { VERSION: v2 } }');
    expect(sb.ruleFindings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(pids()).toEqual(before);
  }, 60_000);

  it('a rolling restart whose new instance never gets healthy stops; the old instances keep serving', async () => {
    await saveMesh('v2: { replicas: 1, env: { VERSION: v2 } }', 'v2: { replicas: 2, env: { VERSION: v2 } }');
    const before = pids();
    const notices: string[] = [];
    const off = sb.bus.on('mesh:notice', (n) => notices.push(n.message));
    await saveMesh('v2: { replicas: 2, env: { VERSION: v2 } }', 'v2: { replicas: 2, command: [node, -e, "process.exit(3)"], env: { VERSION: v2 } }');
    off();
    expect(notices.join('\n')).toMatch(/applied in [\d.]+s, but: callme-service-v2: callme-service-v2-\d did not become healthy .*the rollout stopped, the old instances keep serving/);
    // and says what it saw
    expect(notices.join('\n')).toMatch(/callme-service-v2-\d did not become healthy \(exited \d+ times? without becoming healthy, last with exit code 3\)/);
    expect(pids()).toEqual(before);
    for (let i = 0; i < 10; i++) expect((await httpGet(`${sb.ingressUrl}/caller/ping`, HOST)).status).toBe(200);
    // fixing the command rolls again, this time to the end
    await saveMesh('v2: { replicas: 2, command: [node, -e, "process.exit(3)"], env: { VERSION: v2 } }', 'v2: { replicas: 2, env: { VERSION: v2, FIXED: "1" } }');
    const v2 = sb.registry.all().filter((i) => i.workload.workload === 'callme-service-v2');
    expect(v2).toHaveLength(2);
    for (const i of v2) {
      expect(i.healthy).toBe(true);
      expect(i.workload.env['FIXED']).toBe('1');
      expect(i.pid).not.toBe(before[i.id]);
    }
  }, 90_000);
});
