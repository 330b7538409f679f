/**
 * Seeded randomness. Every random choice meshbox makes (weighted destination, load balancer pick,
 * retry back-off jitter, fault sampling) comes from an Rng, so a run can be replayed from its seed.
 *
 * sfc32 (Small Fast Counting), seeded through splitmix32: good statistical quality for
 * simulations, tiny and fast. Not for cryptography.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `state`: four 32-bit words to start from instead of the seed's (see Rng.derive) */
  constructor(readonly seed: number, state?: readonly [number, number, number, number]) {
    let s = seed >>> 0;
    const split = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = state ? state[0] >>> 0 : split();
    this.b = state ? state[1] >>> 0 : split();
    this.c = state ? state[2] >>> 0 : split();
    this.d = state ? state[3] >>> 0 : split();
    for (let i = 0; i < 12; i++) this.next();
  }

  /**
   * The generator of `key` under `seed`: a pure function of the two, with 128 bits of state
   * hashed from them, so different keys give independent streams (no 32-bit seed collisions).
   */
  static derive(seed: number, key: string): Rng {
    return new Rng(seed, hash128(`${seed >>> 0}\u0000${key}`));
  }

  /** uniform 32-bit unsigned integer */
  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** uniform in [0, 1) */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** uniform integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** true with probability `percent` / 100 */
  percent(percent: number): boolean {
    return percent >= 100 || (percent > 0 && this.next() * 100 < percent);
  }

  /** a random (version 4) UUID drawn from this generator */
  uuid(): string {
    const hex = [this.uint32(), this.uint32(), this.uint32(), this.uint32()].map((w) => w.toString(16).padStart(8, '0')).join('');
    const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  /** an independent generator derived from this one (for a worker, a component) */
  fork(salt: number): Rng {
    return new Rng((this.seed ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0);
  }
}

/** cyrb128: four well-mixed 32-bit words from a string (not cryptographic) */
function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/**
 * One generator per request, so what a request draws does not depend on the other requests in
 * flight: the generator of a request at a listener is derived from the seed, the listener and
 * the request's identity.
 *   - a request with an `x-request-id`: that id, and how many requests with the same id this
 *     listener saw before (an app that sends several calls under one id gets independent draws);
 *   - a request without one: its rank among the id-less requests of that listener (the proxy
 *     then draws the request's generated id from it, so the next hops are replayable too).
 * The per-id counts of the most recent `remember` ids are kept; an id seen again after that
 * many others starts counting anew.
 */
export class RequestRandomness {
  private readonly occurrences = new Map<string, number>();
  private readonly ranks = new Map<string, number>();

  constructor(readonly seed: number, private readonly remember = 8192) {}

  forRequest(listener: string, requestId: string | undefined): Rng {
    if (requestId === undefined) {
      const rank = this.ranks.get(listener) ?? 0;
      this.ranks.set(listener, rank + 1);
      return Rng.derive(this.seed, `${listener}\u0000#${rank}`);
    }
    const key = `${listener}\u0000${requestId}`;
    const seen = this.occurrences.get(key) ?? 0;
    this.occurrences.delete(key);
    if (this.occurrences.size >= this.remember) this.occurrences.delete(this.occurrences.keys().next().value!);
    this.occurrences.set(key, seen + 1);
    return Rng.derive(this.seed, `${key}\u0000${seen}`);
  }
}

/** A seed for runs that were not given one: printed so the run can be replayed. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x7fffffff) + 1;
}
