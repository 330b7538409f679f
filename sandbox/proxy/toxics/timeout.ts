import type { ToxicFactory } from './toxic.js';

/**
 * `timeout`: no data gets through; the connection is closed after `timeout` ms, or never with
 * `timeout: 0` (data is dropped until the toxic is removed): a hung peer.
 */
export const timeout: ToxicFactory = (a) => {
  const ms = a['timeout'] ?? 0;
  return {
    process: () => [],
    start(link) {
      if (ms > 0) link.timer(ms, () => link.close());
    },
  };
};
