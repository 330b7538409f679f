import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';
import { acceptWebSockets, connectWs, echo, opened, closed } from '../../helpers/ws-app.js';

let h: Harness;
let caDir: string;
beforeAll(async () => {
  caDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-ws-'));
  h = await startHarness([{ name: 'caller', versions: { v1: 1 } }, { name: 'callme', versions: { v1: 1 } }], 1, { mtls: { caDir } });
  for (const app of h.apps.values()) acceptWebSockets(app);
});
afterAll(async () => { await h?.close(); rmSync(caDir, { recursive: true, force: true }); });

it('smoke', async () => {
  const ws = connectWs(h.instance('caller-v1-1').sidecar.outbound, 'callme:8080', '/chat', { 'x-request-id': 'ws-1' });
  const o = await opened(ws);
  console.log(o.ok ? o.headers : o);
  expect(o.ok).toBe(true);
  expect(await echo(ws, 'hello')).toBe('callme-v1-1:hello');
  ws.close();
  await closed(ws);
  const evs = await h.eventsFor('ws-1', 2);
  console.log(evs.map((e) => [e.reporter, e.status, e.responseFlags, e.bytesReceived, e.bytesSent, e.durationMs, e.connectionSecurity, e.upgrade, e.why]));
});
