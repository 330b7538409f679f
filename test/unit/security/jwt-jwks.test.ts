import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { calculateJwkThumbprint, compactVerify, createLocalJWKSet, decodeJwt } from 'jose';
import { describe, expect, it } from 'vitest';
import { JWKS_CACHE_MS, JwksCache, parseJwks } from '../../../sandbox/security/jwt-jwks.js';
import { localIssuerKey, TokenIssuer } from '../../../sandbox/security/token-issuer.js';

describe('JWKS cache', () => {
  it('fetches a jwksUri once, serves it from the cache, fetches again after 10 minutes (fake clock)', async () => {
    const issuer = await TokenIssuer.generate();
    let now = 1_000_000;
    const fetched: string[] = [];
    const cache = new JwksCache(
      () => now,
      async (uri) => {
        fetched.push(uri);
        return JSON.stringify(issuer.jwks());
      },
    );
    const rule = { jwksUri: 'http://127.0.0.1:1/jwks.json', timeoutMs: 1000 };
    const all = await Promise.all([cache.get(rule), cache.get(rule), cache.get(rule)]);
    expect(all.every((r) => r.ok)).toBe(true);
    expect(fetched).toHaveLength(1);
    now += JWKS_CACHE_MS - 1;
    await cache.get(rule);
    expect(fetched).toHaveLength(1);
    now += 2;
    await cache.get(rule);
    expect(fetched).toHaveLength(2);
  });

  it('does not cache a failed fetch or a malformed answer, and says why', async () => {
    let answer: () => Promise<string> = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1'));
    const cache = new JwksCache(() => 0, () => answer());
    const rule = { jwksUri: 'http://127.0.0.1:1/jwks.json', timeoutMs: 1000 };
    expect(await cache.get(rule)).toEqual({ ok: false, error: 'fetching http://127.0.0.1:1/jwks.json failed: connect ECONNREFUSED 127.0.0.1:1' });
    answer = async () => '<html>';
    expect(await cache.get(rule)).toMatchObject({ ok: false, error: expect.stringContaining('answered, but not JSON') });
    answer = async () => '{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}';
    expect((await cache.get(rule)).ok).toBe(true);
  });

  it('parseJwks refuses what is not a JWKS of public keys', () => {
    expect(parseJwks('{').ok).toBe(false);
    expect(parseJwks('{"keys":[]}')).toEqual({ ok: false, error: 'the JWKS has no keys' });
    expect(parseJwks('{"keys":[{"x":1}]}')).toEqual({ ok: false, error: 'keys[0] has no `kty`' });
    expect(parseJwks('{"keys":[{"kty":"RSA","n":"a","e":"AQAB","d":"x"}]}').ok).toBe(false);
  });
});

describe('local token issuer', () => {
  it('makes its key once, mode 0600 in a 0700 folder, publishes only the public key, and signs verifiable tokens', async () => {
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'meshbox-issuer-')), 'issuer');
    try {
      const key = localIssuerKey(dir);
      expect(localIssuerKey(dir)).toEqual(key);
      expect(statSync(path.join(dir, 'key.jwk.json')).mode & 0o777).toBe(0o600);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const issuer = TokenIssuer.local(dir);
      const jwks = issuer.jwks();
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).not.toHaveProperty('d');
      expect(jwks.keys[0]!.kid).toBe(await calculateJwkThumbprint(jwks.keys[0]!));
      const token = await issuer.mint({ sub: 'alice', aud: ['a', 'b'], claims: { group: 'dev' }, expiresInS: 60, nowMs: 1_700_000_000_000 });
      await compactVerify(token, createLocalJWKSet(jwks));
      expect(decodeJwt(token)).toEqual({ iss: 'meshbox.local', sub: 'alice', aud: ['a', 'b'], group: 'dev', iat: 1_700_000_000, exp: 1_700_000_060 });
    } finally {
      rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});

describe('local token issuer, bad state', () => {
  it('a corrupt key file is a MeshError with a hint, not a stack trace', async () => {
    const { writeFileSync, mkdirSync } = await import('node:fs');
    const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'meshbox-issuer-')), 'issuer');
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'key.jwk.json'), '{oops');
      expect(() => localIssuerKey(dir)).toThrow(expect.objectContaining({ name: 'MeshError', code: 'MESH_ERR_STATE_DIR', hint: expect.stringContaining('delete the file') }));
    } finally {
      rmSync(path.dirname(dir), { recursive: true, force: true });
    }
  });
});
