import type { Chunk, ToxicFactory } from './toxic.js';

/** `slicer`: chunks are cut into slices of `average_size` ± `size_variation` bytes, `delay` µs apart. */
export const slicer: ToxicFactory = (a) => {
  const average = Math.max(1, a['average_size'] ?? 1);
  const variation = Math.min(a['size_variation'] ?? 0, average - 1);
  const delayMs = (a['delay'] ?? 0) / 1000;
  return {
    async *process(chunk, link): AsyncGenerator<Chunk> {
      let off = 0;
      while (off < chunk.data.length) {
        if (off > 0 && delayMs > 0 && !(await link.sleep(delayMs))) return;
        const size = Math.max(1, Math.round(average + (link.rng.next() * 2 - 1) * variation));
        yield { data: chunk.data.subarray(off, off + size), at: chunk.at };
        off += size;
      }
    },
  };
};
