/**
 * A TCP reset (RST) of a connection, plain or TLS. Node's `resetAndDestroy` only works on a
 * socket that owns its TCP handle; a TLS socket (the inbound sidecar's mTLS connections, the
 * sidecar-to-sidecar upstream) wraps one, so the reset goes to the TCP socket underneath, and a
 * connection whose handle cannot be reset is closed instead.
 */
import type { Socket } from 'node:net';

export function resetConnection(socket: Socket): void {
  const tcp = (socket as Socket & { _parent?: Socket | null })._parent ?? socket;
  try {
    tcp.resetAndDestroy();
  } catch {
    tcp.destroy();
  }
  socket.destroy();
}
