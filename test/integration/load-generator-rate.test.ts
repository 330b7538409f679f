/**
 * The load generator's rate changes and graceful stop, on real sockets: setRate re-paces an open
 * loop without touching the requests in flight; stop({ graceMs }) lets them finish.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadGenerator } from '../../sandbox/chaos/load-generator.js';
import { MeshError } from '../../sandbox/errors.js';

const servers = new Set<http.Server>();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** answers after `delayMs`; `times` holds each request's arrival (performance.now()), `aborted` the ones the client gave up */
async function serve(delayMs: number): Promise<{ url: string; times: number[]; aborted: () => number }> {
  const times: number[] = [];
  let aborted = 0;
  const server = http.createServer((_req, res) => {
    times.push(performance.now());
    let done = false;
    const t = setTimeout(() => {
      done = true;
      res.end('ok');
    }, delayMs);
    res.on('close', () => {
      if (!done) {
        clearTimeout(t);
        aborted++;
      }
    });
  });
  servers.add(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, times, aborted: () => aborted };
}

afterEach(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all([...servers].map((s) => new Promise((r) => s.close(r))));
  servers.clear();
});

describe('LoadGenerator.setRate', () => {
  it('100 req/s, then 300 req/s: each second gets its rate, and no request in flight is cancelled', async () => {
    const s = await serve(150);
    const g = new LoadGenerator({ url: s.url, rate: 100, connections: 64, durationMs: 10_000 });
    void g.start();
    await sleep(1000);
    const switchedAt = performance.now();
    g.setRate(300);
    await sleep(1000);
    const result = await g.stop({ graceMs: 2000 });
    const before = s.times.filter((t) => t < switchedAt).length;
    const after = s.times.filter((t) => t >= switchedAt).length;
    expect(before).toBeGreaterThan(85);
    expect(before).toBeLessThan(115);
    expect(after).toBeGreaterThan(250);
    expect(after).toBeLessThan(330);
    expect(s.aborted()).toBe(0);
    expect(result).toMatchObject({ rate: 300, cancelled: 0, errors: 0 });
    expect(result.completed).toBe(result.sent);
  });

  it('refuses a bad rate and a closed loop, with a hint', async () => {
    const s = await serve(1);
    const open = new LoadGenerator({ url: s.url, rate: 10, durationMs: 1000 });
    expect(() => open.setRate(0)).toThrow(MeshError);
    expect(() => open.setRate(Number.NaN)).toThrow(/rate must be a number above 0/);
    const closed = new LoadGenerator({ url: s.url, concurrency: 2, durationMs: 1000 });
    expect(() => closed.setRate(10)).toThrow(/closed loop has no rate/);
  });
});

describe('LoadGenerator.stop', () => {
  it('with graceMs, requests in flight finish; without, they are cancelled', async () => {
    const s = await serve(200);
    const graceful = new LoadGenerator({ url: s.url, rate: 50, connections: 32, durationMs: 10_000 });
    void graceful.start();
    await sleep(500);
    const r1 = await graceful.stop({ graceMs: 3000 });
    expect(r1.cancelled).toBe(0);
    expect(r1.completed).toBe(r1.sent);
    expect(s.aborted()).toBe(0);

    const abrupt = new LoadGenerator({ url: s.url, rate: 50, connections: 32, durationMs: 10_000 });
    void abrupt.start();
    await sleep(500);
    const r2 = await abrupt.stop();
    expect(r2.cancelled).toBeGreaterThan(0);
  });
});

describe('LoadGenerator.setRate behind schedule', () => {
  it('a backlog of the old rate is not sent at once: after setRate the new rate is what arrives', async () => {
    // one connection and 50 ms answers: at most 20 req/s get through, so 200 req/s builds a backlog
    const s = await serve(50);
    const g = new LoadGenerator({ url: s.url, rate: 200, connections: 1, durationMs: 10_000, timeoutMs: 30_000 });
    void g.start();
    await sleep(1000);
    g.setRate(10, 32);
    const switchedAt = performance.now();
    await sleep(1500);
    const after = s.times.filter((t) => t >= switchedAt + 200).length;
    const result = await g.stop({ graceMs: 3000 });
    // the dropped backlog was never sent: every request sent got its answer
    expect(result.errors).toBe(0);
    expect(result.completed).toBe(result.sent);
    expect(s.aborted()).toBe(0);
    // ~13 at 10 req/s over 1.3 s; the ~180 requests of the backlog would arrive within it otherwise
    expect(after).toBeLessThan(25);
    expect(after).toBeGreaterThan(5);
  });
});
