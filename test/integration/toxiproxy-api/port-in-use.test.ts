/**
 * The Toxiproxy API's port taken at start: on the default port (another Toxiproxy, most likely)
 * the mesh starts without the API and says how to move it; on a port asked for, the start fails.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MeshError } from '../../../sandbox/errors.js';
import { startSandboxToxiproxyApi } from '../../../sandbox/toxiproxy-api/toxiproxy-api.js';

let taken: net.Server;
let port = 0;
beforeAll(async () => {
  taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  port = (taken.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => taken.close(() => r())));

it('default port in use: a warning with the flags, and no API', async () => {
  const warnings: Array<{ level: string; message: string; hint?: string }> = [];
  const api = await startSandboxToxiproxyApi({ port }, { seed: 1, inProcess: true }, (level, message, hint) => warnings.push({ level, message, hint }));
  expect(api).toBeUndefined();
  expect(warnings).toEqual([
    {
      level: 'warn',
      message: `the Toxiproxy API is off: 127.0.0.1:${port} is already in use`,
      hint: 'another Toxiproxy may be running there; give the API another port with --toxiproxy-port N, or leave it off with --no-toxiproxy-api',
    },
  ]);
});

it('explicit port in use: MESH_ERR_PORT_IN_USE with a hint naming --toxiproxy-port', async () => {
  const warnings: string[] = [];
  const err = await startSandboxToxiproxyApi({ port, explicitPort: true }, { seed: 1, inProcess: true }, (_l, m) => warnings.push(m)).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(MeshError);
  expect((err as MeshError).code).toBe('MESH_ERR_PORT_IN_USE');
  expect((err as MeshError).hint).toContain('--toxiproxy-port');
  expect(warnings).toEqual([]);
});

it('a free port: the API answers there (its URL goes to the banner and the UI header, not a notice)', async () => {
  const notices: string[] = [];
  const api = await startSandboxToxiproxyApi({ port: 0 }, { seed: 1, inProcess: true }, (level, m) => notices.push(`${level} ${m}`));
  try {
    expect(notices).toEqual([]);
    expect(api!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetch(`${api!.url}/version`);
    expect(await r.text()).toBe('{"version": "2.12.0"}\n');
    // a standalone proxy starting and stopping is a line in the log
    const created = (await (await fetch(`${api!.url}/proxies`, { method: 'POST', body: JSON.stringify({ name: 'pg', listen: '127.0.0.1:0', upstream: '127.0.0.1:5432' }) })).json()) as { listen: string };
    await fetch(`${api!.url}/proxies/pg`, { method: 'DELETE' });
    expect(notices).toEqual([`info Toxiproxy API: proxy pg listens on ${created.listen}, forwarding to 127.0.0.1:5432`, `info Toxiproxy API: proxy pg stopped listening on ${created.listen}`]);
  } finally {
    await api?.close();
  }
});
