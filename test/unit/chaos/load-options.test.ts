import { describe, expect, it } from 'vitest';
import { MeshError } from '../../../sandbox/errors.js';
import { isLoopbackHost, resolveLoadOptions, type LoadOptions } from '../../../sandbox/chaos/load-options.js';

const base = { url: 'http://127.0.0.1:8080/caller/ping', rate: 10, durationMs: 1000 };

function refusal(options: LoadOptions): MeshError {
  try {
    resolveLoadOptions(options);
  } catch (err) {
    expect(err).toBeInstanceOf(MeshError);
    expect((err as MeshError).code).toBe('MESH_ERR_USAGE');
    return err as MeshError;
  }
  throw new Error(`options were accepted: ${JSON.stringify(options)}`);
}

describe('isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '::ffff:127.0.0.1'])('accepts %s', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });
  it.each(['example.com', '10.0.0.1', '128.0.0.1', '0.0.0.0', '::2', '::', 'localhost.example.com', '192.168.1.127'])('refuses %s', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
});

describe('resolveLoadOptions', () => {
  it('fills in defaults for an open loop', () => {
    const resolved = resolveLoadOptions(base);
    expect(resolved).toMatchObject({ mode: 'open', rate: 10, connections: 32, method: 'GET', warmupMs: 0, timeoutMs: 10_000, durationMs: 1000 });
    expect(resolved.url.href).toBe('http://127.0.0.1:8080/caller/ping');
  });

  it('accepts a closed loop bounded by maxRequests, with a body and headers', () => {
    const resolved = resolveLoadOptions({ url: 'http://localhost:1/x', concurrency: 4, maxRequests: 10, method: 'post', body: 'hi', headers: { Host: 'caller.example.com' } });
    expect(resolved).toMatchObject({ mode: 'closed', concurrency: 4, connections: 0, method: 'POST', maxRequests: 10, headers: { Host: 'caller.example.com' } });
    expect(resolved.body?.toString()).toBe('hi');
  });

  it('refuses targets that are not loopback, with a hint', () => {
    for (const url of ['http://example.com/', 'http://10.1.2.3:8080/', 'http://[2001:db8::1]/']) {
      const err = refusal({ ...base, url });
      expect(err.message).toMatch(/only loopback targets/);
      expect(err.hint).toMatch(/meshbox listener/);
    }
  });

  it('refuses non-http URLs and text that is not a URL', () => {
    expect(refusal({ ...base, url: 'https://127.0.0.1/' }).message).toMatch(/only http:\/\//);
    expect(refusal({ ...base, url: '127.0.0.1:8080' }).message).toMatch(/not a URL/);
    expect(refusal({ ...base, url: 'not a url' }).message).toMatch(/not a URL/);
  });

  it('refuses runs without a bound', () => {
    expect(refusal({ url: base.url, rate: 10 }).message).toMatch(/no bound/);
  });

  it('refuses ambiguous or missing traffic models', () => {
    expect(refusal({ ...base, concurrency: 2 }).message).toMatch(/both set/);
    expect(refusal({ url: base.url, durationMs: 10 }).message).toMatch(/neither rate nor concurrency/);
    expect(refusal({ url: base.url, concurrency: 2, connections: 4, durationMs: 10 }).message).toMatch(/open loop only/);
  });

  it('refuses invalid numbers', () => {
    expect(refusal({ ...base, rate: 0 }).message).toMatch(/rate must be/);
    expect(refusal({ ...base, rate: Number.NaN }).message).toMatch(/rate must be/);
    expect(refusal({ url: base.url, concurrency: 1.5, durationMs: 10 }).message).toMatch(/concurrency must be a whole number/);
    expect(refusal({ ...base, maxRequests: -1 }).message).toMatch(/maxRequests/);
    expect(refusal({ ...base, warmupMs: -5 }).message).toMatch(/warmupMs/);
    expect(refusal({ ...base, timeoutMs: 0 }).message).toMatch(/timeoutMs/);
    expect(refusal({ ...base, method: 'GET /x' }).message).toMatch(/not an HTTP method/);
  });
});
