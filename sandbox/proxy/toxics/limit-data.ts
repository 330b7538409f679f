import type { Chunk, ToxicFactory } from './toxic.js';

/** `limit_data`: the connection is closed once `bytes` bytes went through on this stream. */
export const limitData: ToxicFactory = (a) => {
  const limit = a['bytes'] ?? 0;
  let passed = 0;
  return {
    async *process(chunk, link): AsyncGenerator<Chunk> {
      const room = limit - passed;
      if (room > chunk.data.length) {
        passed += chunk.data.length;
        yield chunk;
        return;
      }
      passed = limit;
      if (room > 0) yield { data: chunk.data.subarray(0, room), at: chunk.at };
      // resumed once the last allowed bytes were written
      link.close();
    },
  };
};
