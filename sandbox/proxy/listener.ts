/**
 * Listeners: one HTTP server per ListenerConfig, kept open across snapshots. A rule change never
 * closes or reopens a listener; only a topology change (an instance added or removed) does.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { ListenerConfig } from '../control/snapshot.js';

export interface BoundListener {
  name: string;
  address: string;
  port: number;
}

export interface ListenError {
  listener: string;
  address: string;
  port: number;
  code: string;
  message: string;
}

type Handler = (listenerName: string, req: http.IncomingMessage, res: http.ServerResponse) => void;

class Listener {
  readonly server: http.Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(readonly config: ListenerConfig, handler: Handler) {
    this.server = http.createServer({ keepAliveTimeout: 30_000, requestTimeout: 0 }, (req, res) => handler(config.name, req, res));
    this.server.on('connection', (s: Socket) => {
      s.setNoDelay(true);
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    // A malformed request gets a 400 and the connection closes; it must never crash the worker.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (socket.writable && err.code !== 'ECONNRESET') socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  listen(): Promise<BoundListener> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host: this.config.address, port: this.config.port, exclusive: true }, () => {
        this.server.off('error', onError);
        this.port = (this.server.address() as AddressInfo).port;
        resolve({ name: this.config.name, address: this.config.address, port: this.port });
      });
    });
  }

  /** stops accepting; idle keep-alive connections close now, busy ones after their response */
  close(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const s of this.sockets) s.destroy();
      }, graceMs);
      timer.unref();
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }
}

export class ListenerManager {
  private readonly listeners = new Map<string, Listener>();

  constructor(private readonly handler: Handler) {}

  /** binds new listeners, closes the ones no longer configured; existing ones are untouched */
  async reconcile(configs: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    const wanted = new Map(configs.map((c) => [c.name, c]));
    const closing: Promise<void>[] = [];
    for (const [name, l] of this.listeners) {
      const next = wanted.get(name);
      const moved = next && next.port !== 0 && (next.port !== l.port || next.address !== l.config.address);
      if (!next || moved) {
        this.listeners.delete(name);
        closing.push(l.close(5_000));
      }
    }
    await Promise.all(closing);
    return this.ensure(configs);
  }

  /** binds the listeners not bound yet; leaves all others alone */
  async ensure(configs: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    const bound: BoundListener[] = [];
    const errors: ListenError[] = [];
    await Promise.all(
      configs.map(async (c) => {
        const existing = this.listeners.get(c.name);
        if (existing) {
          bound.push({ name: c.name, address: c.address, port: existing.port });
          return;
        }
        const l = new Listener(c, this.handler);
        try {
          bound.push(await l.listen());
          this.listeners.set(c.name, l);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          errors.push({ listener: c.name, address: c.address, port: c.port, code: err.code ?? 'ERROR', message: err.message });
        }
      }),
    );
    return { bound, errors };
  }

  async closeAll(graceMs: number): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    await Promise.all(all.map((l) => l.close(graceMs)));
  }
}
