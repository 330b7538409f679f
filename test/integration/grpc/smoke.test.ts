import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { greeterClient, sayHello, startGrpcApp } from '../../helpers/grpc-app.js';
import { startFakeApp } from '../../helpers/fake-app.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness(
    [
      { name: 'caller', versions: { v1: 1 } },
      { name: 'greeter', protocol: 'grpc', versions: { v1: 1 } },
    ],
    1,
    { mtls: { caDir: mkdtempSync(path.join(os.tmpdir(), 'mb-h2-')) }, startApp: (id, svc) => (svc.protocol === 'grpc' ? startGrpcApp(id) : startFakeApp(id)) },
  );
});
afterAll(async () => {
  await h?.close();
});

describe('smoke', () => {
  it('unary', async () => {
    const c = greeterClient(`127.0.0.1:${h.instance('caller-v1-1').sidecar.outbound}`, 'greeter:8080');
    const r = await sayHello(c, { name: 'x' });
    console.log(JSON.stringify(r, null, 1));
    await new Promise((r) => setTimeout(r, 100));
    console.log(h.events.map((e) => JSON.stringify({ p: e.proxy, s: e.status, f: e.responseFlags, d: e.responseCodeDetails, proto: e.protocol, grpc: e.grpc, why: e.why })).join('\n'));
    c.close();
    expect(r.response?.message).toContain('hello x');
  });
});
