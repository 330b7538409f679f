/**
 * The pieces of the upgrade path on their own: the h2c request head Envoy's codec serves as
 * HTTP/1.1, and the upgraded stream between two real socket pairs (bytes both ways, how a FIN,
 * a reset and idleness end it).
 */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { headWithoutH2c } from '../../../sandbox/proxy/upgrade/h2c.js';
import { upgradeAllowed } from '../../../sandbox/proxy/upgrade/upgrade-request.js';
import { runUpgradedStream, type StreamEnd } from '../../../sandbox/proxy/upgrade/upgraded-stream.js';

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** a connected pair: `outer` is the peer (client or app), `inner` is the proxy's end */
async function pair(innerIsServer: boolean): Promise<{ outer: net.Socket; inner: net.Socket }> {
  const server = net.createServer({ allowHalfOpen: true });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const serverSide = await accepted;
  for (const s of [client, serverSide]) {
    s.on('error', () => undefined);
    sockets.push(s);
  }
  return innerIsServer ? { outer: client, inner: serverSide } : { outer: serverSide, inner: client };
}

interface Peer {
  data: string;
  ended: boolean;
  error?: string;
  closed: Promise<void>;
}

function watch(s: net.Socket): Peer {
  const p: Peer = { data: '', ended: false, closed: new Promise((r) => s.once('close', () => r())) };
  s.on('data', (d) => (p.data += d));
  s.on('end', () => (p.ended = true));
  s.on('error', (e: NodeJS.ErrnoException) => (p.error = e.code));
  return p;
}

async function stream(opts: { idleTimeoutMs?: number; throttleBps?: number; downstreamHead?: string; upstreamHead?: string } = {}) {
  const down = await pair(true);
  const up = await pair(false);
  const counted = { received: 0, sent: 0 };
  const client = watch(down.outer);
  const app = watch(up.outer);
  const done: Promise<StreamEnd> = runUpgradedStream({
    downstream: down.inner,
    upstream: up.inner,
    downstreamHead: Buffer.from(opts.downstreamHead ?? ''),
    upstreamHead: Buffer.from(opts.upstreamHead ?? ''),
    idleTimeoutMs: opts.idleTimeoutMs ?? 0,
    drainMs: 1000,
    throttleBps: opts.throttleBps,
    received: (n) => (counted.received += n),
    sent: (n) => (counted.sent += n),
  });
  return { client, app, clientSocket: down.outer, appSocket: up.outer, counted, done };
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('h2c', () => {
  it('the head without Upgrade, HTTP2-Settings and their Connection tokens; everything else as sent', () => {
    const req = Object.assign(Object.create(http.IncomingMessage.prototype) as http.IncomingMessage, {
      method: 'POST',
      url: '/x?y=1',
      httpVersion: '1.1',
      rawHeaders: ['Host', 'a:80', 'Connection', 'Upgrade, HTTP2-Settings, keep-alive', 'Upgrade', 'h2c', 'HTTP2-Settings', 'AAMA', 'X-Case', 'Kept'],
    });
    expect(headWithoutH2c(req).toString('latin1')).toBe('POST /x?y=1 HTTP/1.1\r\nHost: a:80\r\nConnection: keep-alive\r\nX-Case: Kept\r\n\r\n');
  });

  it('only websocket is an allowed upgrade (Istio upgrade_configs), in any case', () => {
    expect(upgradeAllowed('websocket')).toBe(true);
    expect(upgradeAllowed('WebSocket')).toBe(true);
    expect(upgradeAllowed('foo')).toBe(false);
    expect(upgradeAllowed('')).toBe(false);
  });
});

describe('the upgraded stream', () => {
  it('passes bytes both ways, heads first, and counts them; the client’s FIN closes the app’s side cleanly', async () => {
    const s = await stream({ downstreamHead: 'early', upstreamHead: 'hello' });
    s.clientSocket.write('ping');
    s.appSocket.write('pong');
    await until(() => s.app.data === 'earlyping' && s.client.data === 'hellopong');
    expect(s.app.data).toBe('earlyping');
    expect(s.client.data).toBe('hellopong');
    s.clientSocket.end();
    await until(() => s.app.ended);
    expect(s.app.ended).toBe(true);
    s.appSocket.end();
    expect(await s.done).toEqual({ by: 'downstream', how: 'close' });
    expect(s.counted).toEqual({ received: 9, sent: 9 });
  });

  it('the app resets: the client’s side is closed cleanly (a FIN, not a reset)', async () => {
    const s = await stream();
    s.appSocket.write('last words');
    await until(() => s.client.data === 'last words');
    await new Promise((r) => setTimeout(r, 20));
    s.appSocket.resetAndDestroy();
    const end = await s.done;
    expect(end).toMatchObject({ by: 'upstream', how: 'reset' });
    await until(() => s.client.ended);
    expect(s.client.ended).toBe(true);
    expect(s.client.error).toBeUndefined();
  });

  it('the app closes: what it sent is passed on, then the client gets a FIN', async () => {
    const s = await stream();
    s.appSocket.end('bye');
    await until(() => s.client.ended);
    expect(s.client.data).toBe('bye');
    s.clientSocket.end();
    expect(await s.done).toEqual({ by: 'upstream', how: 'close' });
  });

  it('nothing moving for the idle timeout: both sides are closed', async () => {
    const s = await stream({ idleTimeoutMs: 50 });
    expect(await s.done).toEqual({ by: 'proxy', how: 'idle' });
    expect(s.client.ended).toBe(true);
    expect(s.app.ended).toBe(true);
  });

  it('a throttled stream delivers every byte, in order, before the client’s FIN', async () => {
    const s = await stream({ throttleBps: 20_000 });
    const payload = 'x'.repeat(3000) + 'end';
    s.appSocket.end(payload);
    await until(() => s.client.ended);
    expect(s.client.data).toBe(payload);
    s.clientSocket.end();
    await s.done;
    expect(s.counted.sent).toBe(payload.length);
  });
});
