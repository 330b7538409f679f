/**
 * Seeded randomness: the generator's stream, derived generators, and one generator per request.
 */
import { describe, expect, it } from 'vitest';
import { RequestRandomness, Rng } from '../../sandbox/rng.js';

const draws = (r: Rng, n: number): number[] => Array.from({ length: n }, () => r.next());

describe('Rng', () => {
  it('a seed gives the stream it always gave (runs recorded with a seed still replay)', () => {
    const r = new Rng(42);
    expect([r.next(), r.next(), r.next(), r.int(1000)]).toEqual([0.23955312534235418, 0.5859209857881069, 0.09323416277766228, 198]);
    expect(new Rng(42).fork(3).next()).toBe(0.6625683305319399);
  });

  it('derive(seed, key) is a pure function of both; other keys and other seeds give other streams', () => {
    expect(draws(Rng.derive(7, 'a'), 5)).toEqual(draws(Rng.derive(7, 'a'), 5));
    expect(draws(Rng.derive(7, 'a'), 5)).not.toEqual(draws(Rng.derive(7, 'b'), 5));
    expect(draws(Rng.derive(7, 'a'), 5)).not.toEqual(draws(Rng.derive(8, 'a'), 5));
  });

  it('derived streams are uniform: 20 000 first draws of distinct keys fill 10 buckets within 10%', () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 20_000; i++) buckets[Math.floor(Rng.derive(1, `req-${i}`).next() * 10)]!++;
    for (const b of buckets) expect(Math.abs(b - 2000)).toBeLessThan(200);
  });

  it('uuid() is a version-4 UUID, reproducible from the generator', () => {
    const id = Rng.derive(3, 'x').uuid();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Rng.derive(3, 'x').uuid()).toBe(id);
    expect(Rng.derive(3, 'y').uuid()).not.toBe(id);
  });
});

describe('RequestRandomness (a generator per request)', () => {
  it('the same requests get the same generators in a new run, whatever the order they come in', () => {
    const a = new RequestRandomness(9);
    const b = new RequestRandomness(9);
    const first = ['r1', 'r2', 'r3'].map((id) => a.forRequest('p/outbound', id).next());
    const second = ['r3', 'r1', 'r2'].map((id) => b.forRequest('p/outbound', id).next());
    expect([second[1], second[2], second[0]]).toEqual(first);
  });

  it('a repeated id draws anew each time, and a listener draws apart from another one', () => {
    const rr = new RequestRandomness(9);
    const once = rr.forRequest('p/outbound', 'same').next();
    const twice = rr.forRequest('p/outbound', 'same').next();
    expect(twice).not.toBe(once);
    expect(new RequestRandomness(9).forRequest('q/inbound', 'same').next()).not.toBe(once);
  });

  it('requests without an id are keyed by their rank at the listener', () => {
    const a = new RequestRandomness(4);
    const b = new RequestRandomness(4);
    a.forRequest('other', undefined);
    expect([a.forRequest('p', undefined).next(), a.forRequest('p', undefined).next()]).toEqual([b.forRequest('p', undefined).next(), b.forRequest('p', undefined).next()]);
  });

  it('remembers the counts of the most recent ids only', () => {
    const rr = new RequestRandomness(2, 2);
    const firstA = rr.forRequest('p', 'a').next();
    rr.forRequest('p', 'b');
    rr.forRequest('p', 'c'); // forgets a
    expect(rr.forRequest('p', 'a').next()).toBe(firstA); // forgets b, keeps c
    // c is still remembered: its next draw is its second occurrence's, not its first
    expect(rr.forRequest('p', 'c').next()).not.toBe(new RequestRandomness(2).forRequest('p', 'c').next());
    expect(rr.forRequest('p', 'b').next()).toBe(new RequestRandomness(2).forRequest('p', 'b').next());
  });
});
