/**
 * TCP workloads for proxy tests on real sockets.
 *   startTcpEcho(prefix)   Istio's tcp-echo sample: every line it reads is answered with
 *                          `<prefix> <line>`; when the client half-closes (FIN), it answers
 *                          `<prefix> bye` and closes its side, so a test sees the FIN pass through
 *   closedPort()           a loopback port nothing listens on (connect fails: ECONNREFUSED)
 *   tcpClient(port)        a client that collects what it reads until the server closes
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TcpApp {
  port: number;
  /** connections accepted so far */
  connections: number;
  /** bytes received, over all connections */
  received: number;
  close(): Promise<void>;
}

export async function startTcpEcho(prefix: string): Promise<TcpApp> {
  const sockets = new Set<net.Socket>();
  const app: TcpApp = { port: 0, connections: 0, received: 0, close: async () => undefined };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    app.connections++;
    sockets.add(s);
    let buffered = '';
    s.on('data', (d: Buffer) => {
      app.received += d.length;
      buffered += d.toString('utf8');
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        s.write(`${prefix} ${buffered.slice(0, nl)}\n`);
        buffered = buffered.slice(nl + 1);
      }
    });
    s.on('end', () => {
      if (buffered) s.write(`${prefix} ${buffered}\n`);
      s.end(`${prefix} bye\n`);
    });
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  app.port = (server.address() as AddressInfo).port;
  app.close = () =>
    new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return app;
}

/** a port that refuses connections: bound once, then closed */
export async function closedPort(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return { port, close: async () => undefined };
}

export interface TcpExchange {
  /** everything read until the connection closed (or the time limit) */
  text: string;
  /** the server's side ended (FIN) */
  ended: boolean;
  error?: string;
}

/**
 * Connects, writes `send` (then half-closes when `end`), reads until the connection closes or
 * `maxMs` passes (bounded).
 */
export function tcpExchange(port: number, send: string | Buffer, opts: { end?: boolean; maxMs?: number; until?: (text: string) => boolean } = {}): Promise<TcpExchange> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const r: TcpExchange = { text: '', ended: false };
    const timer = setTimeout(() => s.destroy(), opts.maxMs ?? 5000);
    s.on('connect', () => {
      s.write(send);
      if (opts.end) s.end();
    });
    s.on('data', (d: Buffer) => {
      r.text += d.toString('utf8');
      if (opts.until?.(r.text)) s.destroy();
    });
    s.on('end', () => {
      r.ended = true;
      s.end();
    });
    s.on('error', (e: NodeJS.ErrnoException) => (r.error = e.code ?? e.message));
    s.on('close', () => {
      clearTimeout(timer);
      resolve(r);
    });
  });
}

/** opens a connection and keeps it until `close()` */
export async function holdConnection(port: number): Promise<{ socket: net.Socket; closed: Promise<void>; close(): void }> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => undefined);
  await new Promise<void>((r, j) => {
    socket.once('connect', () => r());
    socket.once('error', j);
  });
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  return { socket, closed, close: () => socket.destroy() };
}
