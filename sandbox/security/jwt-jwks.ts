/**
 * Where a jwtRule's keys come from: inline `jwks` (parsed once) or `jwksUri`, fetched over HTTP
 * with the rule's `timeout`, cached for Envoy's default cache_duration (10 min) and fetched again
 * after it. A failed fetch is not cached (the next request tries again, one fetch at a time per
 * URI) and makes the request fail with Envoy's `Jwks remote fetch is failed`, never a crash.
 * The cache outlives snapshots: it is keyed by URI, as Envoy's is per provider.
 */
import type { JSONWebKeySet } from 'jose';
import type { JwtRuleConfig } from './jwt-rule.js';

export const JWKS_CACHE_MS = 600_000;

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

async function fetchText(uri: string, timeoutMs: number): Promise<string> {
  let res: Response;
  try {
    res = await fetch(uri, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError') throw new Error(`no answer within ${timeoutMs} ms (the rule's timeout)`);
    throw new Error(err.cause?.code ?? err.cause?.message ?? err.message);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  return res.text();
}
