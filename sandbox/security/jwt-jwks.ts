/**
 * Where a jwtRule's keys come from: inline `jwks` (parsed once) or `jwksUri`, fetched over HTTP
 * with the rule's `timeout`, cached for Envoy's default cache_duration (10 min) and fetched again
 * after it. A failed fetch is not cached (the next request tries again, one fetch at a time per
 * URI) and makes the request fail with Envoy's `Jwks remote fetch is failed`, never a crash.
 * The cache outlives snapshots: it is keyed by URI, as Envoy's is per provider.
 */
import http from 'node:http';
import https from 'node:https';
import type { JSONWebKeySet } from 'jose';
import type { JwtRuleConfig } from './jwt-rule.js';

export const JWKS_CACHE_MS = 600_000;
const MAX_JWKS_BYTES = 1024 * 1024;

export type JwksResult = { ok: true; jwks: JSONWebKeySet } | { ok: false; error: string };

/** Parses a JWKS document; the reason it is not one otherwise. */
export function parseJwks(text: string): JwksResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `not JSON (${(e as Error).message})` };
  }
  if (value === null || typeof value !== 'object' || !Array.isArray((value as { keys?: unknown }).keys)) return { ok: false, error: 'not a JWKS: an object with a `keys` list is expected' };
  const keys = (value as { keys: unknown[] }).keys;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as Record<string, unknown> | null;
    if (k === null || typeof k !== 'object' || typeof k['kty'] !== 'string') return { ok: false, error: `keys[${i}] has no \`kty\`` };
    if ('d' in k) return { ok: false, error: `keys[${i}] holds a private key (\`d\`): publish only public keys` };
  }
  if (keys.length === 0) return { ok: false, error: 'the JWKS has no keys' };
  return { ok: true, jwks: value as JSONWebKeySet };
}

interface Entry {
  jwks: JSONWebKeySet;
  fetchedAt: number;
}

export class JwksCache {
  private readonly inline = new Map<string, JwksResult>();
  private readonly remote = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<JwksResult>>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly fetcher: (uri: string, timeoutMs: number) => Promise<string> = fetchText,
  ) {}

  async get(rule: Pick<JwtRuleConfig, 'jwks' | 'jwksUri' | 'timeoutMs'>): Promise<JwksResult> {
    if (rule.jwks !== undefined) {
      let r = this.inline.get(rule.jwks);
      if (!r) this.inline.set(rule.jwks, (r = parseJwks(rule.jwks)));
      return r;
    }
    const uri = rule.jwksUri;
    if (!uri) return { ok: false, error: 'the rule has neither jwks nor jwksUri' };
    const cached = this.remote.get(uri);
    if (cached && this.now() - cached.fetchedAt < JWKS_CACHE_MS) return { ok: true, jwks: cached.jwks };
    let pending = this.inFlight.get(uri);
    if (!pending) {
      pending = this.fetch(uri, rule.timeoutMs).finally(() => this.inFlight.delete(uri));
      this.inFlight.set(uri, pending);
    }
    return pending;
  }

  private async fetch(uri: string, timeoutMs: number): Promise<JwksResult> {
    let text: string;
    try {
      text = await this.fetcher(uri, timeoutMs);
    } catch (e) {
      return { ok: false, error: `fetching ${uri} failed: ${(e as Error).message}` };
    }
    const r = parseJwks(text);
    if (!r.ok) return { ok: false, error: `${uri} answered, but ${r.error}` };
    this.remote.set(uri, { jwks: r.jwks, fetchedAt: this.now() });
    return r;
  }
}

/** GET with node's http/https (fetch refuses the WHATWG "bad ports", which a local JWKS server may use) */
function fetchText(uri: string, timeoutMs: number, redirects = 3): Promise<string> {
  return new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      reject(new Error('not a URL'));
      return;
    }
    const get = url.protocol === 'https:' ? https.get : url.protocol === 'http:' ? http.get : undefined;
    if (!get) {
      reject(new Error(`${url.protocol} is not http or https`));
      return;
    }
    const req = get(url, { timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
        res.resume();
        fetchText(new URL(res.headers.location, url).toString(), timeoutMs, redirects - 1).then(resolve, reject);
        return;
      }
      if (status !== 200) {
        res.resume();
        reject(new Error(`HTTP ${status}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_JWKS_BYTES) req.destroy(new Error(`the answer is larger than ${MAX_JWKS_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', (e) => reject(e));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms (the rule's timeout)`)));
    req.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code && !e.message.includes(e.code) ? e.code : e.message)));
  });
}
