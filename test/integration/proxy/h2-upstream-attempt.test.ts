/**
 * One HTTP/2 upstream attempt against a real h2c server: what each way of failing becomes, in
 * Envoy's vocabulary (connect failure UF, REFUSED_STREAM, RST_STREAM UR), and the pool's reuse.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestBody } from '../../../sandbox/proxy/body/request-body.js';
import { H2Pool } from '../../../sandbox/proxy/upstream/h2-pool.js';
import { H2UpstreamAttempt, type H2Response } from '../../../sandbox/proxy/upstream/h2-upstream-attempt.js';
import { MeshUpstreamAgent } from '../../../sandbox/security/tls-upstream.js';
import { startH2App, type H2App } from '../../helpers/h2-app.js';
import { freePort } from '../../helpers/free-port.js';

let app: H2App;
let pool: H2Pool;
beforeAll(async () => {
  app = await startH2App('up-1');
  const plaintext = () => ({ kind: 'plaintext' as const, why: 'test' });
  pool = new H2Pool(new MeshUpstreamAgent(plaintext), plaintext, 60_000);
});
afterAll(async () => {
  pool.destroy();
  await app.close();
});

function attempt(path: string, port = app.port, perTryTimeoutMs: number | null = null): H2UpstreamAttempt {
  return new H2UpstreamAttempt({
    pool,
    host: '127.0.0.1',
    port,
    method: 'GET',
    path,
    headers: { host: 'svc:8080', 'x-a': '1', connection: 'keep-alive', te: 'gzip' },
    body: RequestBody.empty(),
    perTryTimeoutMs,
    connectTimeoutMs: 1_000,
    limits: { maxRequestsPerConnection: 0, maxConcurrentStreams: 0 },
  }).start();
}

describe('H2UpstreamAttempt', () => {
  it('a response: status, headers without pseudo-headers; connection-specific request headers are not sent', async () => {
    const o = await attempt('/ok').outcome;
    expect(o.kind).toBe('response');
    if (o.kind !== 'response') return;
    const r = o.response as unknown as H2Response;
    expect(r.statusCode).toBe(200);
    expect(Object.keys(r.headers).some((k) => k.startsWith(':'))).toBe(false);
    const body = await new Promise<string>((resolve) => {
      let b = '';
      r.on('data', (c: Buffer) => (b += c));
      r.on('end', () => resolve(b));
    });
    const seen = JSON.parse(body) as { authority: string; headers: Record<string, string> };
    expect(seen.authority).toBe('svc:8080');
    expect(seen.headers['x-a']).toBe('1');
    expect(seen.headers['connection']).toBeUndefined();
    expect(seen.headers['te']).toBeUndefined();
  });

  it('RST_STREAM before the response: reset, remote reset', async () => {
    const o = await attempt('/reset').outcome;
    expect(o).toMatchObject({ kind: 'failure', failure: 'reset', resetReason: 'remote reset', reason: 'RST_STREAM INTERNAL_ERROR' });
  });

  it('RST_STREAM REFUSED_STREAM: refused-stream (retried by Istio\'s default policy)', async () => {
    const o = await attempt('/refuse/1').outcome;
    expect(o).toMatchObject({ kind: 'failure', failure: 'refused-stream', resetReason: 'remote refused stream reset' });
  });

  it('nobody listening: connect-failure', async () => {
    const o = await attempt('/x', await freePort()).outcome;
    expect(o).toMatchObject({ kind: 'failure', failure: 'connect-failure', resetReason: 'connection failure' });
  });

  it('a per-try timeout abandons the stream', async () => {
    const a = attempt('/delay/1000', app.port, 50);
    expect(await a.outcome).toMatchObject({ kind: 'failure', failure: 'per-try-timeout' });
    expect(a.safeToResend).toBe(false);
  });

  it('streams share one pooled connection', async () => {
    const before = pool.toJSON().sessions;
    await Promise.all([attempt('/a').outcome, attempt('/b').outcome, attempt('/c').outcome]);
    expect(pool.toJSON().sessions).toBe(Math.max(before, 1));
  });
});
