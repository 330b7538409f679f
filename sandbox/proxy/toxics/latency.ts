import type { ToxicFactory } from './toxic.js';

/** `latency`: every chunk waits `latency` ± `jitter` ms (uniform) after it arrived; order is kept. */
export const latency: ToxicFactory = (a) => {
  const base = a['latency'] ?? 0;
  const jitter = a['jitter'] ?? 0;
  return {
    async process(chunk, link) {
      const delay = base + (jitter > 0 ? (link.rng.next() * 2 - 1) * jitter : 0);
      const wait = chunk.at + delay - performance.now();
      if (wait > 0 && !(await link.sleep(wait))) return [];
      return [chunk];
    },
  };
};
