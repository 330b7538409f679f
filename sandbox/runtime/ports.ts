/**
 * Loopback ports for workload instances. The app must bind its port itself, so meshbox picks a
 * free one and checks it by listening on it and closing again; ports handed out by this sandbox
 * are never handed out twice.
 *
 * The ports come from below the kernel's ephemeral range (ip_local_port_range, 32768-60999 by
 * default): the local ports of outgoing connections are taken from that range, so a port picked
 * there could be taken by any client connection before the app binds it (Toxiproxy's advice
 * too). Only when no such range exists does meshbox fall back to a port the kernel picks.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

const handedOut = new Set<number>();

/** [low, high) to pick workload ports from: up to 10,000 ports just below the ephemeral range */
export function workloadPortRange(): [number, number] | undefined {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: the IANA dynamic range starts at 49152
    low = 49152;
  }
  const from = Math.max(10_000, low - 10_000);
  return low - from >= 1000 ? [from, low] : undefined;
}

function tryListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function listenOnce(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

export async function allocatePort(host = '127.0.0.1'): Promise<number> {
  const range = workloadPortRange();
  if (range) {
    const [from, to] = range;
    for (let i = 0; i < 200; i++) {
      // not the seeded generator: two sandboxes started with the same seed must not pick alike
      const port = from + Math.floor(Math.random() * (to - from));
      if (handedOut.has(port)) continue;
      if (await tryListen(host, port)) {
        handedOut.add(port);
        return port;
      }
    }
  }
  for (let i = 0; i < 50; i++) {
    const port = await listenOnce(host);
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port on ${host}`);
}

export function releasePort(port: number): void {
  handedOut.delete(port);
}

/** true when something accepts connections on host:port */
export function isPortOpen(port: number, host = '127.0.0.1', timeoutMs = 300): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (v: boolean): void => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
