/**
 * The TUI's built-in load on real sockets: changing its rate (`+`/`-`) lets every request in
 * flight finish; none is aborted, so no hop shows a downstream reset and the success rate holds.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IngressLoad } from '../../cli/tui/ingress-load.js';

interface SlowServer {
  url: string;
  answered: number;
  /** requests whose client went away before the answer */
  aborted: number;
  close(): Promise<void>;
}

/** answers every request after `delayMs`; counts requests the client abandoned */
async function slowServer(delayMs: number): Promise<SlowServer> {
  const s: SlowServer = { url: '', answered: 0, aborted: 0, close: async () => undefined };
  const server = http.createServer((_req, res) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      s.answered++;
      res.end('ok');
    }, delayMs);
    res.on('close', () => {
      if (done) return;
      clearTimeout(timer);
      s.aborted++;
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  s.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return s;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('IngressLoad (the TUI load key)', () => {
  it('changing the rate up and down aborts no request in flight', async () => {
    const server = await slowServer(200);
    cleanup.push(() => server.close());
    const load = new IngressLoad(() => ({ baseUrl: server.url, host: 'caller.example.com', path: '/caller/ping' }));
    cleanup.push(() => load.stop());
    load.start({ rate: 40 });
    await sleep(500);
    // + then - then + : each while ~8 requests are in flight
    for (const rate of [80, 40, 80]) {
      load.start({ rate, path: load.status()!.path });
      await sleep(400);
    }
    expect(load.status()).toMatchObject({ running: true, rate: 80 });
    await load.stop();
    const s = load.status()!;
    expect(server.aborted).toBe(0);
    expect(s.errors).toBe(0);
    expect(server.answered).toBeGreaterThan(40);
    // every request sent was answered, across the rate changes
    expect(s.completed).toBe(s.sent);
    expect(s.sent).toBe(server.answered);
  });

  it('the new rate is what is sent: 40 then 160 req/s', async () => {
    const server = await slowServer(5);
    cleanup.push(() => server.close());
    const load = new IngressLoad(() => ({ baseUrl: server.url, host: 'h', path: '/' }));
    cleanup.push(() => load.stop());
    load.start({ rate: 40 });
    await sleep(1000);
    const before = server.answered;
    load.start({ rate: 160 });
    await sleep(1000);
    const after = server.answered - before;
    await load.stop();
    // about 40 in the first second, about 160 in the second (loose bounds: a loaded machine)
    expect(before).toBeGreaterThan(25);
    expect(before).toBeLessThan(60);
    expect(after).toBeGreaterThan(100);
    expect(after).toBeLessThan(200);
    expect(server.aborted).toBe(0);
  });
});
