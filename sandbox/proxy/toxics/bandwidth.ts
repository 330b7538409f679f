import type { Chunk, ToxicFactory } from './toxic.js';

/** `bandwidth`: at most `rate` KB/s (1 KB = 1000 bytes), per connection, in 100 ms slices. */
export const bandwidth: ToxicFactory = (a) => {
  const rate = a['rate'] ?? 0;
  return {
    async process(chunk, link) {
      if (rate <= 0) return [chunk];
      const slice = Math.max(1, Math.floor(rate * 100));
      const out: Chunk[] = [];
      for (let off = 0; off < chunk.data.length; off += slice) {
        const piece = chunk.data.subarray(off, off + slice);
        if (!(await link.sleep(piece.length / rate))) return out;
        out.push({ data: piece, at: performance.now() });
      }
      return out;
    },
  };
};
