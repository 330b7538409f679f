/**
 * A small seeded pseudo-random generator (mulberry32), so that a run with `SEED` set gives the
 * same sequence of random errors and delays every time.
 */
import { randomBytes } from 'node:crypto';

export interface Random {
  /** the seed in use, printed at startup so a run can be replayed */
  readonly seed: number;
  /** uniform float in [0, 1) */
  next(): number;
  /** uniform integer in [0, bound), like Java's `Random.nextInt(bound)` */
  nextInt(bound: number): number;
}

export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { seed: seed >>> 0, next, nextInt: (bound) => Math.floor(next() * bound) };
}

/**
 * The generator for this process: seeded from `SEED` when set (an integer, or any text which is
 * hashed), else from the operating system's random source.
 */
export function randomFromEnv(seedText: string | undefined): Random {
  const text = seedText?.trim();
  if (!text) return mulberry32(randomBytes(4).readUInt32LE(0));
  if (/^\d+$/.test(text)) return mulberry32(Number(BigInt(text) % 4294967296n));
  let hash = 2166136261;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  return mulberry32(hash);
}
