/**
 * Tracing end to end, as a user runs it: `meshbox up` (process runtime) with the sample services,
 * `--otlp-endpoint` and `--zipkin` pointing at a small collector on loopback. A request to
 * /caller/ping is one trace: the gateway's server span, the caller's server and client spans, and
 * callme's server span, parented in that order (the sample caller forwards the trace headers);
 * the collector receives them; GET /traces returns them. With a 50 % abort on callme and the
 * caller's retries, the trace shows the failed attempts and the fault.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, interrupt, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { startTraceCollector, type TraceCollector } from '../helpers/trace-collector.js';

const HOST = { host: 'caller.example.com' };

function getJson(url: string): Promise<any> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
    }).on('error', reject);
  });
}

async function until<T>(f: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('tracing with the sample mesh', () => {
  let run: CliRun;
  let ingress = '';
  let admin = '';
  let stateDir = '';
  let collector: TraceCollector;

  beforeAll(async () => {
    collector = await startTraceCollector();
    const [ip, ap] = [await freePort(), await freePort()];
    ingress = `http://127.0.0.1:${ip}`;
    admin = `http://127.0.0.1:${ap}`;
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-'));
    run = startCli(
      ['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--seed', '42', '--no-logs', '--no-toxiproxy-api',
        '--otlp-endpoint', `${collector.url}/v1/traces`, '--zipkin', collector.url],
      { MESHBOX_STATE_DIR: stateDir },
    );
    await run.waitFor('meshbox is up', 45_000);
    await waitForHttp(`${admin}/ready`);
  });

  afterAll(async () => {
    if (run) await interrupt(run);
    await collector?.close();
  });

  it('/caller/ping is one trace: ingress, caller (server, client), callme, correctly parented; the collector has it', async () => {
    const r = await httpGet(`${ingress}/caller/ping`, { ...HOST, 'x-request-id': 'e2e-trace-1' });
    expect(r.status).toBe(200);
    const body = await until(async () => {
      const b = await getJson(`${admin}/traces/by-request/e2e-trace-1`);
      return b.data?.[0]?.spans.length >= 4 ? b : undefined;
    });
    const t = body.data[0];
    const proc = (s: any): string => t.processes[s.processID].serviceName;
    const kind = (s: any): string => s.tags.find((x: any) => x.key === 'span.kind').value;
    const find = (svc: string, k: string): any => t.spans.find((s: any) => proc(s) === svc && kind(s) === k);
    const gw = find('istio-ingressgateway.istio-system', 'server');
    const callerServer = find('caller-service.default', 'server');
    const callerClient = find('caller-service.default', 'client');
    const callmeServer = find('callme-service.default', 'server');
    expect(t.spans).toHaveLength(4);
    expect(gw.references).toEqual([]);
    expect(callerServer.references[0].spanID).toBe(gw.spanID);
    expect(callerClient.references[0].spanID).toBe(callerServer.spanID);
    expect(callmeServer.references[0].spanID).toBe(callerClient.spanID);
    expect(callerClient.operationName).toBe('callme-service.default.svc.cluster.local:8080/*');
    // both collectors got all four
    for (const format of ['otlp', 'zipkin']) {
      await until(() => (collector.spans.filter((s) => s.format === format && s.traceId === t.traceID).length === 4 ? true : undefined));
    }
    const stats = await getJson(`${admin}/traces/stats`);
    expect(stats.exporters.map((e: any) => e.name)).toEqual(['OTLP', 'Zipkin']);
    expect(stats.exporters.every((e: any) => e.dropped === 0 && e.failed === 0)).toBe(true);
  });

  it('a 50 % abort on callme with the caller retrying: the failed attempts and the fault are in the trace', async () => {
    const add = await runCli(['fault', 'add', 'callme-service', '--abort', '503', '--percent', '50', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
    expect(add.code).toBe(0);
    let found: any;
    for (let i = 0; i < 40 && !found; i++) {
      const id = `e2e-retry-${i}`;
      await httpGet(`${ingress}/caller/ping`, { ...HOST, 'x-request-id': id });
      const b = await until(async () => {
        const x = await getJson(`${admin}/traces/by-request/${id}`);
        return x.data?.[0]?.spans.length >= 4 ? x : undefined;
      });
      const t = b.data[0];
      const client = t.spans.find((s: any) => t.processes[s.processID].serviceName === 'caller-service.default' && s.tags.some((x: any) => x.key === 'span.kind' && x.value === 'client'));
      const attempts = client.logs.filter((l: any) => l.fields.some((f: any) => f.key === 'event' && String(f.value).startsWith('attempt ')));
      if (attempts.length >= 2) found = { t, client, attempts };
    }
    expect(found).toBeDefined();
    const { t, client, attempts } = found;
    expect(attempts[0].fields).toContainEqual({ key: 'http.status_code', type: 'int64', value: 503 });
    const faulted = t.spans.filter((s: any) => s.tags.some((x: any) => x.key === 'fault' && x.value === 'abort 503'));
    expect(faulted.length).toBeGreaterThanOrEqual(1);
    for (const s of faulted) {
      expect(s.references[0].spanID).toBe(client.spanID);
      expect(s.tags).toContainEqual({ key: 'response_flags', type: 'string', value: 'FI' });
    }
    await runCli(['fault', 'rm', '--all', '--admin', admin], { MESHBOX_STATE_DIR: stateDir });
  });
});
