import type { ToxicFactory } from './toxic.js';

/** `slow_close`: when the stream ends, the close is held back `delay` ms. */
export const slowClose: ToxicFactory = (a) => {
  const delay = a['delay'] ?? 0;
  return {
    process: (chunk) => [chunk],
    async beforeEnd(link) {
      await link.sleep(delay);
    },
  };
};
