/**
 * A free TCP port on loopback, for tests that must pass a port to a child process (servers in the
 * test's own process should listen on port 0 instead).
 *
 * Same policy as meshbox's own workload ports (sandbox/runtime/ports.ts): picked below the
 * kernel's ephemeral range, so the local port of some outgoing connection cannot take it between
 * this call and the child's bind; ports handed out by this process are not handed out twice.
 */
import { allocatePort } from '../../sandbox/runtime/ports.js';

export function freePort(host = '127.0.0.1'): Promise<number> {
  return allocatePort(host);
}
