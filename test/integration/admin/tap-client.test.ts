/**
 * `meshbox tap --max N` and `meshbox top` against a stub admin API on a real socket: events that arrive in the
 * same chunk as the response headers still count, and --max stops the command.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runTap } from '../../../cli/commands/tap.js';
import { runTop } from '../../../cli/commands/top.js';

const event = (n: number): string =>
  JSON.stringify({
    type: 'mesh:request:end', reporter: 'destination', proxy: 'callme-service-v2-1', method: 'GET', path: '/callme/ping', authority: 'callme-service:8080',
    status: 200, durationMs: 2, upstreamServiceTimeMs: 1, bytesSent: 21, responseFlags: '-', requestId: `r${n}`,
    source: { workload: 'caller-service-v1', namespace: 'default' }, destination: { workload: 'callme-service-v2', serviceName: 'callme-service', serviceNamespace: 'default' },
  });

describe('meshbox tap client', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('--max counts events that came with the headers, and stops', async () => {
    let clientGone = false;
    server = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      // one write: headers, the start line and two events in the same chunk; then the stream stays open
      res.write(`${JSON.stringify({ type: 'tap:start' })}\n${event(1)}\n${event(2)}\n`);
      req.socket.on('close', () => (clientGone = true));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const out: string[] = [];
    const code = await Promise.race([
      runTap({ admin: url, max: 1 }, { out: (l) => out.push(l), err: (l) => out.push(l) }),
      new Promise((r) => setTimeout(() => r('still running after 5 s'), 5000)),
    ]);
    expect(code).toBe(0);
    expect(out).toHaveLength(3);
    expect(out[0]).toMatch(/^req id=0:1 proxy=in src=caller-service-v1 dst=callme-service-v2 :method=GET/);
    await new Promise((r) => setTimeout(r, 100));
    expect(clientGone).toBe(true);
  });
});

describe('meshbox top client', () => {
  let server: http.Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('on a terminal redraws the table in place; when the sandbox ends the stream it says so and exits 1', async () => {
    const frames: string[] = [];
    server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write(`${JSON.stringify({ type: 'tap:start' })}\n`);
      for (let n = 1; n <= 6; n++) res.write(`${event(n)}\n`);
      // end once the table was redrawn twice by the interval (no wall-clock bound)
      const t = setInterval(() => {
        if (frames.length < 2) return;
        clearInterval(t);
        res.end();
      }, 10);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const err: string[] = [];
    const code = await runTop({ admin: url, intervalMs: 50 }, { out: () => undefined, err: (l) => err.push(l) }, true, (t) => frames.push(t));
    expect(code).toBe(1);
    expect(err).toEqual(['top: the sandbox closed the stream (it stopped)']);
    expect(frames.length).toBeGreaterThanOrEqual(3);
    expect(frames.every((f) => f.startsWith('\u001b[H\u001b[2J(press Ctrl-C to quit)\n'))).toBe(true);
    expect(frames[frames.length - 1]).toMatch(/\ncaller-service-v1\s+callme-service-v2-1\s+GET\s+\/callme\/ping\s+6\s+2ms\s+2ms\s+2ms\s+100\.00%\n$/);
  });
});
