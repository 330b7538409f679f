/**
 * The data plane's warm-up before ready (sandbox/control/warm-up.ts): every worker drives its
 * requests through a private copy of the request path before the sandbox says ready, and none of
 * it is seen: no request event, metric series, span or cluster of it, and the user's first
 * request is the first one anyone observes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MeshEvent } from '../../sandbox/events.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import type { WarmUpReport } from '../../sandbox/control/warm-up.js';
import { httpGet } from '../helpers/cli.js';
import { copySampleMesh, eventually, type SampleCopy } from '../helpers/reload-fixture.js';

let copy: SampleCopy;
let sb: Sandbox;
const seen: MeshEvent[] = [];
let warmAtReady: WarmUpReport | undefined;
const savedStateDir = process.env.MESHBOX_STATE_DIR;

beforeAll(async () => {
  copy = copySampleMesh();
  process.env.MESHBOX_STATE_DIR = copy.stateDir;
  sb = new Sandbox({ config: copy.meshFile, runtime: 'process', ingressPort: 0, adminPort: 0, accessLogDir: false, watch: false, seed: 9, dataPlaneWorkers: 2, warmUpRequests: 60 });
  sb.onEvent((e) => seen.push(e));
  sb.bus.on('mesh:sandbox:ready', () => (warmAtReady = sb.warmUp));
  await sb.up();
}, 60_000);

afterAll(async () => {
  await sb?.down();
  copy?.cleanup();
  if (savedStateDir === undefined) delete process.env.MESHBOX_STATE_DIR;
  else process.env.MESHBOX_STATE_DIR = savedStateDir;
});

it('warms every worker before the sandbox says ready', () => {
  expect(warmAtReady).toBeDefined();
  expect(warmAtReady!.workers).toHaveLength(2);
  for (const w of warmAtReady!.workers) {
    expect(w).not.toHaveProperty('error');
    const run = w as { sent: number; ok: number; failed: number };
    // 60 asked; a slow machine stops at the warm-up's time bound: every request sent succeeded
    expect(run.sent).toBeGreaterThan(0);
    expect(run.sent).toBeLessThanOrEqual(60);
    expect(run).toMatchObject({ ok: run.sent, failed: 0 });
  }
  const status = sb.status() as { ready: boolean; dataPlane: { warmUp: WarmUpReport } };
  expect(status.ready).toBe(true);
  expect(status.dataPlane.warmUp.workers).toHaveLength(2);
});

it('leaves no trace: no request event, metric, span or cluster of the warm-up', async () => {
  expect(seen.filter((e) => e.type === 'mesh:request:end')).toEqual([]);
  expect(JSON.stringify(seen)).not.toMatch(/warm-a|warm-b|meshbox-warm-up/);
  const metrics = (await httpGet(`${sb.adminUrl}/metrics`)).body;
  expect(metrics).not.toMatch(/^istio_requests_total\{/m);
  expect(metrics).not.toMatch(/warm-a|warm-b|meshbox-warm-up/);
  expect((await httpGet(`${sb.adminUrl}/clusters`)).body).not.toMatch(/warm-a|warm-b|meshbox-warm-up/);
  expect(sb.tracing?.store.size ?? 0).toBe(0);
});

it("the user's first request is the first one observed, with its four legs", async () => {
  const r = await httpGet(`${sb.ingressUrl}/caller/ping`, { host: 'caller.example.com', 'x-request-id': 'first-one' });
  expect(r.status).toBe(200);
  await eventually(() => seen.filter((e) => e.type === 'mesh:request:end').length >= 4, 5_000, 'the four events of the request');
  const requests = seen.filter((e) => e.type === 'mesh:request:end');
  expect(requests.every((e) => e.requestId === 'first-one')).toBe(true);
  expect(requests).toHaveLength(4);
});
