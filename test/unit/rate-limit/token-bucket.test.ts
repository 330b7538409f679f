/**
 * Envoy's local rate limit token bucket on a fake clock: starts full, refills tokens_per_fill
 * every fill_interval from its creation, never above max_tokens.
 */
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../sandbox/rate-limit/token-bucket.js';

function clock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('TokenBucket', () => {
  it('starts full, empties one token per request, refills on each fill interval up to max_tokens', () => {
    const c = clock();
    const b = new TokenBucket({ maxTokens: 4, tokensPerFill: 2, fillIntervalMs: 60_000 }, c.now);
    expect([1, 2, 3, 4, 5].map(() => b.consume())).toEqual([true, true, true, true, false]);
    c.advance(59_999);
    expect(b.consume()).toBe(false);
    c.advance(1);
    expect(b.remaining()).toBe(2);
    expect(b.nextFillInMs()).toBe(60_000);
    c.advance(10 * 60_000);
    expect(b.remaining()).toBe(4);
    expect([1, 2, 3, 4, 5].map(() => b.consume())).toEqual([true, true, true, true, false]);
  });

  it('counts fills from its creation, not from the last request', () => {
    const c = clock();
    const b = new TokenBucket({ maxTokens: 1, tokensPerFill: 1, fillIntervalMs: 1000 }, c.now);
    c.advance(900);
    expect(b.consume()).toBe(true);
    c.advance(100);
    expect(b.consume()).toBe(true);
    expect(b.consume()).toBe(false);
  });
});
