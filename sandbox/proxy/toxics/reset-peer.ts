import type { ToxicFactory } from './toxic.js';

/** `reset_peer`: the connection is reset (TCP RST, "connection reset by peer") after `timeout` ms. */
export const resetPeer: ToxicFactory = (a) => {
  const ms = a['timeout'] ?? 0;
  return {
    process: (chunk) => [chunk],
    start(link) {
      link.timer(ms, () => link.reset());
    },
  };
};
