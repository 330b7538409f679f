import type { ToxicFactory } from './toxic.js';

/**
 * `latency`: every chunk waits `latency` ± `jitter` ms (uniform) after it arrived; order is kept.
 * The chunk leaves stamped with the time it was due, so several latency toxics stack (Toxiproxy 2).
 */
export const latency: ToxicFactory = (a) => {
  const base = a['latency'] ?? 0;
  const jitter = a['jitter'] ?? 0;
  return {
    async process(chunk, link) {
      const delay = base + (jitter > 0 ? (link.rng.next() * 2 - 1) * jitter : 0);
      const wait = chunk.at + delay - performance.now();
      if (wait > 0 && !(await link.sleep(wait))) return [];
      return [{ data: chunk.data, at: chunk.at + Math.max(0, delay) }];
    },
  };
};
