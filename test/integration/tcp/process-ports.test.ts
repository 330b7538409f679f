/**
 * A service with several ports under the process runtime (a real `meshbox up`, real processes):
 * the app gets PORT and PORT_<NAME> and listens on each, its health check uses the first port,
 * and a client reaches the TCP port through its own sidecar at <SERVICE>_<PORT>_ADDR, over mTLS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox } from '../../../sandbox/sandbox.js';
import { httpGet } from '../../helpers/cli.js';

const ECHO = `
import http from 'node:http';
import net from 'node:net';
const seen = Object.fromEntries(Object.entries(process.env).filter(([k]) => k === 'PORT' || k.startsWith('PORT_')));
http.createServer((req, res) => res.end(JSON.stringify(seen))).listen(Number(process.env.PORT), process.env.HOST);
net.createServer((s) => s.on('data', (d) => s.write('echo ' + d))).listen(Number(process.env.PORT_TCP_ECHO), process.env.HOST);
`;

const CLIENT = `
import http from 'node:http';
import net from 'node:net';
http.createServer((req, res) => {
  if (req.url !== '/call') return res.end('ok');
  const [host, port] = process.env.ECHO_TCP_ECHO_ADDR.split(':');
  const s = net.connect(Number(port), host, () => s.write('hi\\n'));
  s.once('data', (d) => {
    res.end(JSON.stringify({ addr: process.env.ECHO_TCP_ECHO_ADDR, reply: String(d) }));
    s.destroy();
  });
  s.on('error', (e) => res.end(JSON.stringify({ error: e.message })));
}).listen(Number(process.env.PORT), process.env.HOST);
`;

let dir: string;
let sb: Sandbox;
const savedStateDir = process.env.MESHBOX_STATE_DIR;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-ports-'));
  process.env.MESHBOX_STATE_DIR = path.join(dir, 'state');
  writeFileSync(path.join(dir, 'echo.mjs'), ECHO);
  writeFileSync(path.join(dir, 'client.mjs'), CLIENT);
  writeFileSync(
    path.join(dir, 'meshbox.yaml'),
    `services:
  echo:
    ports:
    - {name: http, port: 8080}
    - {name: tcp-echo, port: 9000}
    command: [${JSON.stringify(process.execPath)}, echo.mjs]
  client:
    port: 8080
    command: [${JSON.stringify(process.execPath)}, client.mjs]
`,
  );
  sb = new Sandbox({ config: path.join(dir, 'meshbox.yaml'), runtime: 'process', ingressPort: 0, adminPort: 0, accessLogDir: false, watch: false, seed: 5 });
  await sb.up();
}, 60_000);

afterAll(async () => {
  await sb?.down();
  rmSync(dir, { recursive: true, force: true });
  if (savedStateDir === undefined) delete process.env.MESHBOX_STATE_DIR;
  else process.env.MESHBOX_STATE_DIR = savedStateDir;
});

describe('ports under the process runtime', () => {
  it('PORT and PORT_<NAME> reach the app, which listens on each; the health check uses PORT', async () => {
    const echo = sb.registry.get('echo-v1-1')!;
    expect(echo.healthy).toBe(true);
    expect(echo.appPorts).toHaveLength(2);
    const seen = JSON.parse((await httpGet(`http://127.0.0.1:${echo.appPort}/`)).body) as Record<string, string>;
    expect(seen).toEqual({ PORT: String(echo.appPort), PORT_HTTP: String(echo.appPort), PORT_TCP_ECHO: String(echo.appPorts![1]) });
  });

  it('a client reaches the TCP port through its sidecar at ECHO_TCP_ECHO_ADDR, over mTLS, both proxies reporting', async () => {
    const closes: Array<{ reporter: string; security?: string; source: string }> = [];
    sb.bus.on('mesh:tcp:close', (e) => closes.push({ reporter: e.reporter, security: e.connectionSecurity, source: e.source.workload }));
    const client = sb.registry.get('client-v1-1')!;
    const r = JSON.parse((await httpGet(`http://127.0.0.1:${client.appPort}/call`)).body) as { addr: string; reply: string };
    expect(r.reply).toBe('echo hi\n');
    expect(r.addr).toBe(`127.0.0.1:${client.sidecar.servicePorts!['echo:9000']}`);
    const deadline = Date.now() + 5000;
    while (closes.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(closes.map((c) => c.reporter).sort()).toEqual(['destination', 'source']);
    expect(closes.find((c) => c.reporter === 'destination')).toMatchObject({ security: 'mutual_tls', source: 'client-v1' });
    const metrics = (await httpGet(`${sb.adminUrl}/metrics`)).body;
    expect(metrics).toMatch(/istio_tcp_connections_closed_total\{reporter="destination",source_workload="client-v1",[^}]*destination_workload="echo-v1"[^}]*connection_security_policy="mutual_tls"[^}]*\} 1/);
  });
});
