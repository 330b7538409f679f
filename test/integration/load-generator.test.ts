/**
 * The load generator against real local servers (port 0): open-loop rate accuracy, closed-loop
 * concurrency, latency measured from scheduled send time, error counting, bounds, stop/abort,
 * classification. Kept with the integration tests because timing needs a quiet machine.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LoadGenerator, type LoadStats, runLoad } from '../../sandbox/chaos/load-generator.js';
import { MeshError } from '../../sandbox/errors.js';
import { freePort } from '../helpers/free-port.js';

interface TestServer {
  url: string;
  received: number;
  inFlight: number;
  maxInFlight: number;
  hosts: string[];
}

const servers = new Set<http.Server>();

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse, state: TestServer) => void): Promise<TestServer> {
  const state: TestServer = { url: '', received: 0, inFlight: 0, maxInFlight: 0, hosts: [] };
  const server = http.createServer((req, res) => {
    state.received++;
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    state.hosts.push(req.headers.host ?? '');
    res.on('close', () => state.inFlight--);
    handler(req, res, state);
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/load`;
  return state;
}

afterEach(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all([...servers].map((server) => new Promise((resolve) => server.close(resolve))));
  servers.clear();
});

describe('open loop', () => {
  it('sends at the requested rate: 200 req/s for 1 s gives 200 ± 10 requests', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    const started = performance.now();
    const result = await runLoad({ url: server.url, rate: 200, durationMs: 1000 });
    const elapsed = performance.now() - started;
    expect(result.sent).toBeGreaterThanOrEqual(190);
    expect(result.sent).toBeLessThanOrEqual(210);
    expect(server.received).toBe(result.sent);
    expect(result.completed).toBe(result.sent);
    expect(result.statusCounts).toEqual({ '200': result.sent });
    expect(result.achievedRate).toBeGreaterThan(190);
    expect(result.achievedRate).toBeLessThan(210);
    expect(result.stoppedBy).toBe('duration');
    expect(elapsed).toBeLessThan(1500);
    expect(result.latencyMs.count).toBe(result.completed);
  });

  it('times latency from the scheduled send time, so a 300 ms stall counts for every request queued behind it', async () => {
    let stallUntil = 0;
    let stalled = false;
    const server = await serve((_req, res) => {
      const now = performance.now();
      if (!stalled && server.received === 60) {
        stalled = true;
        stallUntil = now + 300;
      }
      const wait = stallUntil - now;
      if (wait > 0) setTimeout(() => res.end('late'), wait);
      else res.end('ok');
    });
    const result = await runLoad({ url: server.url, rate: 200, durationMs: 1000, connections: 1 });
    const l = result.latencyMs;
    // ~60 requests are scheduled during the stall and wait for it: uniform 0..300 ms
    expect(l.max).toBeGreaterThanOrEqual(295);
    expect(l.p99).toBeGreaterThanOrEqual(280);
    expect(l.p90).toBeGreaterThanOrEqual(150);
    expect(l.p50).toBeLessThan(50);
    expect(result.completed).toBe(result.sent);
  });

  it('never sends before the scheduled time: no latency is negative', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    const generator = new LoadGenerator({ url: server.url, rate: 500, durationMs: 1000 });
    const latencies: number[] = [];
    generator.on('outcome', (o) => latencies.push(o.latencyMs));
    await generator.start();
    expect(latencies.length).toBeGreaterThan(450);
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(0);
  });

  it('queues behind busy connections instead of opening more', async () => {
    const server = await serve((_req, res) => setTimeout(() => res.end('ok'), 50));
    const result = await runLoad({ url: server.url, rate: 100, durationMs: 500, connections: 2 });
    expect(server.maxInFlight).toBeLessThanOrEqual(2);
    // 2 connections x 20 req/s each cannot keep up with 100 req/s: queueing shows in latency
    expect(result.latencyMs.max).toBeGreaterThan(500);
    expect(result.completed).toBe(result.sent);
  });

  it('stops at maxRequests exactly', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    const result = await runLoad({ url: server.url, rate: 2000, maxRequests: 37 });
    expect(result).toMatchObject({ sent: 37, completed: 37, stoppedBy: 'maxRequests' });
    expect(server.received).toBe(37);
  });

  it('excludes warm-up requests from the counts', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    const result = await runLoad({ url: server.url, rate: 100, warmupMs: 200, durationMs: 300 });
    expect(result.warmup.sent).toBe(20);
    expect(result.warmup.completed).toBe(20);
    expect(result.sent).toBe(30);
    expect(server.received).toBe(50);
    // the measured window is the 300 ms after warm-up, not the 500 ms of the whole run
    expect(result.durationMs).toBeGreaterThanOrEqual(280);
    expect(result.durationMs).toBeLessThan(500);
  });
});

describe('closed loop', () => {
  it('never exceeds its concurrency', async () => {
    const server = await serve((_req, res) => setTimeout(() => res.end('ok'), 10 + Math.random() * 10));
    const result = await runLoad({ url: server.url, concurrency: 5, durationMs: 600 });
    expect(server.maxInFlight).toBe(5);
    expect(result.completed).toBeGreaterThan(100);
    expect(result.errors).toBe(0);
    expect(result.stoppedBy).toBe('duration');
    expect(result.durationMs).toBeGreaterThanOrEqual(580);
    expect(result.durationMs).toBeLessThan(900);
  });

  it('stops at maxRequests exactly with several workers', async () => {
    const server = await serve((_req, res) => setTimeout(() => res.end('ok'), 2));
    const result = await runLoad({ url: server.url, concurrency: 8, maxRequests: 101 });
    expect(result).toMatchObject({ sent: 101, completed: 101, stoppedBy: 'maxRequests' });
    expect(server.received).toBe(101);
  });
});

describe('errors', () => {
  it('counts ECONNREFUSED when nothing listens', async () => {
    const url = `http://127.0.0.1:${await freePort()}/`;
    const open = await runLoad({ url, rate: 100, durationMs: 300 });
    expect(open).toMatchObject({ sent: 30, completed: 0, errors: 30, errorCounts: { ECONNREFUSED: 30 } });
    expect(open.latencyMs.count).toBe(0);
    const closed = await runLoad({ url, concurrency: 3, maxRequests: 40 });
    expect(closed).toMatchObject({ sent: 40, errors: 40, errorCounts: { ECONNREFUSED: 40 } });
  });

  it('counts resets and timeouts by code', async () => {
    const resetting = await serve((req) => req.socket.destroy());
    const reset = await runLoad({ url: resetting.url, concurrency: 2, maxRequests: 10 });
    expect(reset.errorCounts).toEqual({ ECONNRESET: 10 });

    const silent = await serve(() => undefined);
    const started = performance.now();
    const timedOut = await runLoad({ url: silent.url, concurrency: 4, maxRequests: 4, timeoutMs: 200 });
    expect(timedOut.errorCounts).toEqual({ timeout: 4 });
    // at the 200 ms timeout, not whenever the silent server would answer (never)
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
    expect(performance.now() - started).toBeLessThan(2000);

    const trickling = await serve((_req, res) => {
      res.writeHead(200);
      res.write('first bytes, then nothing');
    });
    const cutOff = await runLoad({ url: trickling.url, concurrency: 2, maxRequests: 2, timeoutMs: 200 });
    expect(cutOff).toMatchObject({ completed: 0, errors: 2, errorCounts: { timeout: 2 } });
  });

  it('refuses targets that are not loopback before sending anything', async () => {
    await expect(runLoad({ url: 'http://example.com/', rate: 1, durationMs: 100 })).rejects.toBeInstanceOf(MeshError);
    await expect(runLoad({ url: 'http://10.0.0.1/', rate: 1, durationMs: 100 })).rejects.toThrow(/only loopback targets/);
  });
});

describe('control and reporting', () => {
  it('sends method, headers and body, and counts answers by classify', async () => {
    const bodies: string[] = [];
    const server = await serve((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        bodies.push(`${req.method} ${body}`);
        res.end(`I'm callme-service ${server.received % 5 === 0 ? 'v1' : 'v2'}`);
      });
    });
    const result = await runLoad({
      url: server.url,
      concurrency: 1,
      maxRequests: 50,
      method: 'POST',
      body: 'payload',
      headers: { Host: 'caller.example.com' },
      classify: (_res, body) => /callme-service (v\d)/.exec(body)?.[1],
    });
    expect(result.classCounts).toEqual({ v1: 10, v2: 40 });
    expect(new Set(server.hosts)).toEqual(new Set(['caller.example.com']));
    expect(new Set(bodies)).toEqual(new Set(['POST payload']));
  });

  it('stop() ends a long run at once and cancels requests in flight', async () => {
    const server = await serve((_req, res) => setTimeout(() => res.end('ok'), 5000));
    const generator = new LoadGenerator({ url: server.url, rate: 50, durationMs: 60_000 });
    const done = generator.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const live = generator.stats();
    expect(live.phase).toBe('measuring');
    expect(live.inFlight).toBeGreaterThan(10);
    const started = performance.now();
    const result = await generator.stop();
    // at once: requests in flight would take 5 s to answer
    expect(performance.now() - started).toBeLessThan(1000);
    expect(await done).toBe(result);
    expect(result.stoppedBy).toBe('stopped');
    expect(result.cancelled).toBe(result.sent);
    expect(result.errors).toBe(0);
  });

  it('runLoad ends early when its signal aborts', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const result = await runLoad({ url: server.url, rate: 100, durationMs: 30_000 }, controller.signal);
    expect(result.stoppedBy).toBe('stopped');
    expect(result.sent).toBeGreaterThan(10);
    expect(result.sent).toBeLessThan(40);
  });

  it('emits progress with live stats and an outcome per request', async () => {
    const server = await serve((_req, res) => res.end('ok'));
    const generator = new LoadGenerator({ url: server.url, rate: 200, durationMs: 500, progressIntervalMs: 100 });
    const progress: LoadStats[] = [];
    // collected, not asserted in the listener: a throw there would land in the generator, not here
    const statuses: Array<number | undefined> = [];
    generator.on('progress', (stats) => progress.push(stats));
    generator.on('outcome', (outcome) => statuses.push(outcome.status));
    const result = await generator.start();
    expect(statuses).toHaveLength(result.sent);
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(progress.length).toBeGreaterThanOrEqual(3);
    // one 100 ms window holds ~20 answers, so one reading may be off by a few (or be the last
    // window, cut short by the end of the run); their median is not
    const readings = progress.map((p) => p.recent.completedPerSecond).sort((a, b) => a - b);
    const median = readings[Math.floor(readings.length / 2)]!;
    expect(median).toBeGreaterThan(160);
    expect(median).toBeLessThan(240);
    expect(progress[2]!.statusCounts['200']).toBeGreaterThan(0);
    expect(generator.stats().phase).toBe('done');
  });
});
