/**
 * tap, top, stat, get, describe, delete and port-forward against the sample mesh, as a user runs
 * them: `meshbox up --headless --runtime process` on free ports, traffic through the ingress
 * gateway, then each command's output.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { httpGet, interrupt, ROOT, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

const HOST = { host: 'caller.example.com' };

describe('observe and kubectl-style commands on the sample mesh', () => {
  let up: CliRun;
  let ingress = '';
  let admin = '';
  let ingressPort = 0;
  let rules = '';
  let env: Record<string, string> = {};

  const cli = (...args: string[]) => runCli([...args, '--admin', admin], env);
  /** sends requests until `run` exits (bounded: 200 requests or 30 s) */
  async function trafficUntilExit(run: CliRun, url = '/caller/ping'): Promise<number> {
    let sent = 0;
    const deadline = Date.now() + 30_000;
    while (run.proc.exitCode === null && sent < 200 && Date.now() < deadline) {
      await httpGet(`${ingress}${url}`, HOST);
      sent++;
      await new Promise((r) => setTimeout(r, 50));
    }
    await run.exited;
    return sent;
  }

  beforeAll(async () => {
    ingressPort = await freePort();
    const ap = await freePort();
    ingress = `http://127.0.0.1:${ingressPort}`;
    admin = `http://127.0.0.1:${ap}`;
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'meshbox-observe-'));
    rules = path.join(tmp, 'rules');
    cpSync(path.join(ROOT, 'sample-services', 'rules'), rules, { recursive: true });
    env = { MESHBOX_STATE_DIR: path.join(tmp, 'state') };
    up = startCli(
      ['up', '--headless', '--runtime', 'process', '--rules', rules, '--ingress-port', String(ingressPort), '--admin-port', String(ap), '--seed', '7', '--no-logs', '--no-access-log'],
      env,
    );
    await up.waitFor('meshbox is up', 45_000);
    await waitForHttp(`${admin}/ready`);
  }, 60_000);

  afterAll(async () => {
    if (up) await interrupt(up);
  });

  it('tap streams req/rsp/end lines, linkerd style, filtered by --to and --path', async () => {
    const tap = startCli(['tap', '--to', 'callme-service', '--path', '/callme', '--max', '3', '--admin', admin], env);
    await trafficUntilExit(tap);
    expect(await tap.exited).toBe(0);
    const lines = tap.output().trim().split('\n');
    expect(lines).toHaveLength(9);
    expect(lines[0]).toMatch(/^req id=0:1 proxy=(in|out) src=caller-service-v1 dst=callme-service-v[12] :method=GET :authority=callme-service:8080 :path=\/callme\/ping$/);
    expect(lines[1]).toMatch(/^rsp id=0:1 proxy=(in|out) src=caller-service-v1 dst=callme-service-v[12] :status=200 latency=\d+µs$/);
    expect(lines[2]).toMatch(/^end id=0:1 proxy=(in|out) src=caller-service-v1 dst=callme-service-v[12] duration=\d+µs response-length=\d+B$/);
    // the gateway -> caller hop is filtered out
    expect(tap.output()).not.toContain('/caller/ping');
  }, 60_000);

  it('tap -o json prints one event per line; --from with an unknown name says so, with a did-you-mean', async () => {
    const tap = startCli(['tap', '--from', 'istio-ingressgateway', '-o', 'json', '--max', '1', '--admin', admin], env);
    await trafficUntilExit(tap);
    const e = JSON.parse(tap.output().trim()) as { type: string; source: { workload: string }; path: string; status: number };
    expect(e.type).toBe('mesh:request:end');
    expect(e.source.workload).toBe('istio-ingressgateway');
    expect(e.path).toBe('/caller/ping');
    const bad = await cli('tap', '--to', 'calme-service');
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('MESH_ERR_NO_MATCH');
    expect(bad.output).toContain('did you mean `callme-service`?');
  }, 60_000);

  it('top aggregates by source, destination, method and path', async () => {
    const top = startCli(['top', '--duration', '3', '--admin', admin], env);
    const sent = await trafficUntilExit(top);
    expect(await top.exited).toBe(0);
    const lines = top.output().trim().split('\n');
    expect(lines[0]).toMatch(/^Source\s+Destination\s+Method\s+Path\s+Count\s+Best\s+Worst\s+Last\s+Success Rate$/);
    const gw = lines.find((l) => /^istio-ingressgateway\s+caller-service-v1-1\s+GET\s+\/caller\/ping\s+/.test(l));
    expect(gw, top.output()).toBeDefined();
    const count = Number(gw!.split(/\s+/)[4]);
    // counted once per request (not once per reporting proxy), and only while top ran
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThanOrEqual(sent);
    expect(gw).toMatch(/100\.00%$/);
    expect(lines.some((l) => /^caller-service-v1\s+callme-service-v[12]-\d\s+GET\s+\/callme\/ping\s+\d+/.test(l))).toBe(true);
  }, 60_000);

  it('stat prints linkerd viz stat columns per service and per workload', async () => {
    for (let i = 0; i < 20; i++) await httpGet(`${ingress}/caller/ping`, HOST);
    const r = await cli('stat');
    expect(r.code).toBe(0);
    const lines = r.output.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+MESHED\s+SUCCESS\s+RPS\s+LATENCY_P50\s+LATENCY_P95\s+LATENCY_P99\s+TCP_CONN$/);
    expect(lines.find((l) => l.startsWith('callme-service'))).toMatch(/^callme-service\s+3\/3\s+100\.00%\s+[\d.]+rps\s+[\d.]+ms\s+[\d.]+ms\s+[\d.]+ms\s+\d+$/);
    expect(lines.find((l) => l.startsWith('caller-service'))).toMatch(/^caller-service\s+1\/1\s+100\.00%/);
    const json = await cli('stat', 'deploy', '-o', 'json', '--window', '5m');
    const body = JSON.parse(json.output) as { rows: Array<{ name: string; requests: number; latencyP50Ms: number; latencyP99Ms: number }> };
    expect(body.rows.map((x) => x.name).sort()).toEqual(['caller-service-v1', 'callme-service-v1', 'callme-service-v2', 'greeter-service-v1', 'greeter-service-v2']);
    const caller = body.rows.find((x) => x.name === 'caller-service-v1')!;
    expect(caller.requests).toBeGreaterThanOrEqual(20);
    expect(caller.latencyP99Ms).toBeGreaterThanOrEqual(caller.latencyP50Ms);
    const bad = await cli('stat', 'svc', 'calme-service');
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('did you mean `callme-service`?');
  }, 60_000);

  it('get lists services, workloads, pods and rules in every -o format, with kubectl short names and -l', async () => {
    const svc = await cli('get', 'svc');
    expect(svc.code).toBe(0);
    expect(svc.output).toMatch(/^NAME\s+PORT\(S\)\s+ENDPOINTS\s+VIRTUALSERVICES\s+DESTINATIONRULES\n/);
    expect(svc.output).toMatch(/callme-service\s+8080\/TCP\s+3\/3\s+callme-service-route\s+callme-service-destination/);
    const vs = await cli('get', 'vs', '-o', 'yaml');
    const list = parseYaml(vs.output) as { kind: string; items: Array<{ kind: string; metadata: { name: string }; spec: { hosts: string[] } }> };
    expect(list.kind).toBe('List');
    expect(list.items.map((i) => i.metadata.name).sort()).toEqual(['caller-service-route', 'callme-service-route', 'greeter-service-route']);
    const one = JSON.parse((await cli('get', 'vs/callme-service-route', '-o', 'json')).output) as { kind: string; spec: { hosts: string[] } };
    expect(one.kind).toBe('VirtualService');
    expect(one.spec.hosts).toEqual(['callme-service']);
    expect((await cli('get', 'dr', '-o', 'name')).output.trim().split('\n')).toEqual([
      'destinationrule.networking.istio.io/caller-service-destination',
      'destinationrule.networking.istio.io/callme-service-destination',
      'destinationrule.networking.istio.io/greeter-service-destination',
    ]);
    expect((await cli('get', 'po', '-l', 'app=callme-service,version=v2', '-o', 'name')).output.trim().split('\n')).toEqual(['pod/callme-service-v2-1', 'pod/callme-service-v2-2']);
    expect((await cli('get', 'deploy', '--json')).output).toContain('"kind": "Workload"');
    const none = await cli('get', 'po', '-l', 'version=v9');
    expect(none.code).toBe(1);
    expect(none.output).toContain('MESH_ERR_NO_MATCH: no pods for the selector version=v9 matched');
    const typo = await cli('get', 'virtualservis');
    expect(typo.code).not.toBe(0);
    expect(typo.output).toContain('did you mean `virtualservices`?');
    const status = parseYaml((await cli('status', '-o', 'yaml')).output) as { ready: boolean; instances: unknown[] };
    expect(status.ready).toBe(true);
    expect(status.instances).toHaveLength(6);
    const fmt = await cli('get', 'svc', '-o', 'jsn');
    expect(fmt.output).toContain('did you mean `-o json`?');
  }, 60_000);

  it('describe shows the object and which rules apply to it and why', async () => {
    const vs = await cli('describe', 'vs', 'callme-service-route');
    expect(vs.code).toBe(0);
    expect(vs.output).toContain('Name:         callme-service-route');
    expect(vs.output).toMatch(/Applied by: caller-service-v1-1, /);
    expect(vs.output).toMatch(/route: outbound\|8080\|v2\|callme-service\.default\.svc\.cluster\.local 80%, outbound\|8080\|v1\|callme-service\.default\.svc\.cluster\.local 20%/);
    expect(vs.output).toContain('timeout: 500ms');
    const pod = await cli('describe', 'po', 'callme-service-v1-1');
    expect(pod.output).toMatch(/VirtualService default\/callme-service-route http\[0\] \(.*callme-service\.yaml:\d+:\d+\): 20% of matching requests/);
    const live = await cli('describe', 'svc', 'callme-service');
    expect(live.output).toMatch(/Live \(data plane\):\n  callme-service-v1-1: \d+ requests from sidecars and the gateway, \d+ errors, \d+ active\n/);
    expect(live.output).toContain('  no outlier ejections');
    const svc = await cli('describe', 'svc/callme-service', '-o', 'json');
    const d = JSON.parse(svc.output) as { object: { kind: string }; explain: string[] };
    expect(d.object.kind).toBe('Service');
    expect(d.explain.join('\n')).toContain('DestinationRules: default/callme-service-destination');
    const missing = await cli('describe', 'dr', 'callme-service-destinaton');
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('MESH_ERR_NOT_FOUND');
    expect(missing.output).toContain('did you mean `callme-service-destination`?');
  }, 60_000);

  it('port-forward exposes a service on a local port through the mesh, until it exits; a port in use says so', async () => {
    const port = await freePort();
    const pf = startCli(['port-forward', 'callme-service', String(port), '--admin', admin], env);
    await pf.waitFor(`Forwarding from 127.0.0.1:${port} -> callme-service:8080`, 20_000);
    const bodies = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await httpGet(`http://127.0.0.1:${port}/callme/ping`);
      expect(r.status).toBe(200);
      bodies.add(r.body);
    }
    // the mesh routes apply: the VirtualService's 80/20 split reaches both versions
    expect([...bodies].every((b) => /^I'm callme-service v[12]$/.test(b))).toBe(true);
    const listed = (await httpGet(`${admin}/port-forwards`)).body;
    expect(listed).toContain(`"port": ${port}`);
    await interrupt(pf);
    const refused = await new Promise<string>((resolve) => {
      const deadline = Date.now() + 10_000;
      const attempt = (): void => {
        const req = http.get(`http://127.0.0.1:${port}/callme/ping`, { agent: false }, (res) => {
          res.resume();
          if (Date.now() > deadline) resolve(`still answering ${res.statusCode}`);
          else setTimeout(attempt, 100);
        });
        req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      };
      attempt();
    });
    expect(refused).toBe('ECONNREFUSED');
    expect((await httpGet(`${admin}/port-forwards`)).body).not.toContain(`"port": ${port}`);
    // opening a listener changes the sandbox: without the admin token it is refused
    const tokenless = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${admin}/port-forwards`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(JSON.stringify({ service: 'callme-service', port: 0 }));
    });
    expect(tokenless).toBe(401);
    const busy = await cli('port-forward', 'callme-service', String(ingressPort));
    expect(busy.code).toBe(2);
    expect(busy.output).toContain(`MESH_ERR_PORT_IN_USE: port-forward to callme-service cannot listen on 127.0.0.1:${ingressPort}: the port is already in use`);
    expect(busy.output).toContain('hint:');
  }, 60_000);

  it('delete removes a rule from the rules folder and the sandbox stops applying it', async () => {
    const file = path.join(rules, 'callme-service.yaml');
    const r = await cli('delete', 'vs', 'callme-service-route');
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain('virtualservice.networking.istio.io "callme-service-route" deleted');
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('kind: VirtualService');
    expect(text).toContain('kind: DestinationRule');
    expect(existsSync(file)).toBe(true);
    expect((await cli('get', 'vs', '-o', 'name')).output.trim()).toBe('virtualservice.networking.istio.io/caller-service-route\nvirtualservice.networking.istio.io/greeter-service-route');
    const again = await cli('delete', 'vs', 'callme-service-route');
    expect(again.code).toBe(1);
    expect(again.output).toContain('MESH_ERR_NOT_FOUND');
    const svc = await cli('delete', 'svc', 'callme-service');
    expect(svc.code).toBe(64);
    expect(svc.output).toContain('edit meshbox.yaml');
  }, 60_000);

  it('-l selects instances for workload verbs and faults; a selector matching nothing exits 1', async () => {
    const drain = await cli('workload', 'drain', '-l', 'app=callme-service,version=v2');
    expect(drain.code, drain.output).toBe(0);
    expect(drain.output.trim().split('\n')).toEqual(['drain callme-service-v2-1: done', 'drain callme-service-v2-2: done']);
    expect((await cli('get', 'po', '-l', 'version=v2')).output).toMatch(/callme-service-v2-1\s+0\/1\s+running,drained/);
    expect((await cli('workload', 'undrain', '-l', 'app=callme-service,version=v2')).code).toBe(0);
    expect((await cli('get', 'po', '-l', 'version=v2')).output).toMatch(/callme-service-v2-1\s+1\/1\s+running\s/);
    const none = await cli('workload', 'kill', '-l', 'version=v9');
    expect(none.code).toBe(1);
    expect(none.output).toContain('MESH_ERR_NO_MATCH: no instances for the selector version=v9 matched');
    const neither = await cli('workload', 'kill');
    expect(neither.code).toBe(64);
    expect(neither.output).toContain('name the instance, or select instances with -l');

    const add = await cli('fault', 'add', '-l', 'app=callme-service,version=v2', '--abort', '503', '--name', 'sel', '-o', 'yaml');
    expect(add.code, add.output).toBe(0);
    const rec = parseYaml(add.output) as { name: string; spec: { target: { service: string; subset?: string } } };
    expect(rec.name).toBe('sel');
    expect(rec.spec.target).toEqual({ service: 'callme-service', subset: 'v2' });
    const whole = await cli('fault', 'add', '-l', 'app=callme-service', '--delay', '1ms', '--name', 'all', '--json');
    expect((JSON.parse(whole.output) as { spec: { target: unknown } }).spec.target).toEqual({ service: 'callme-service' });
    const ls = parseYaml((await cli('fault', 'ls', '-o', 'yaml')).output) as Array<{ name: string }>;
    expect(ls.map((f) => f.name)).toEqual(expect.arrayContaining(['sel', 'all']));
    expect((await cli('get', 'faults', '-o', 'name')).output).toContain('fault.meshbox.dev/sel');
    const del = await cli('delete', 'fault', 'sel');
    expect(del.code, del.output).toBe(0);
    expect((await cli('fault', 'rm', '--all')).code).toBe(0);
    const wl = parseYaml((await cli('workload', 'ls', '-o', 'yaml')).output) as Array<{ id: string }>;
    expect(wl).toHaveLength(6);
    const v = await runCli(['validate', path.join(ROOT, 'sample-services'), '-o', 'yaml'], env);
    expect((parseYaml(v.output) as { ok: boolean }).ok).toBe(true);
  }, 60_000);

  it('describe shows a host ejected by outlier detection, live, per calling proxy', async () => {
    const file = path.join(os.tmpdir(), `meshbox-observe-dr-${process.pid}.yaml`);
    writeFileSync(
      file,
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: callme-service-destination
spec:
  host: callme-service
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 60s, maxEjectionPercent: 100 }
`,
    );
    const applied = await cli('apply', '-f', file);
    expect(applied.code, applied.output).toBe(0);
    expect((await cli('fault', 'add', 'callme-service', '--subset', 'v1', '--abort', '503', '--name', 'v1-down')).code).toBe(0);
    // through the caller, whose sidecar ejects v1 after 2 consecutive 503s
    let ejected = '';
    for (let i = 0; i < 60 && !ejected; i++) {
      await httpGet(`${ingress}/caller/ping`, HOST);
      if (i % 5 === 4) {
        const d = await cli('describe', 'po', 'callme-service-v1-1');
        ejected = /callme-service-v1-1 ejected by caller-service-v1-1's outlier detection \(\d+ time\(s\)\)/.exec(d.output)?.[0] ?? '';
      }
    }
    expect(ejected).not.toBe('');
    await cli('fault', 'rm', 'v1-down');
  }, 90_000);
});
