/**
 * ToxicProxy: Toxiproxy's proxy, in the data plane. Listens on a loopback port and forwards each
 * connection to one endpoint (its inbound sidecar) through an upstream and a downstream
 * ToxicLink. Clusters send their traffic for that endpoint here while it has toxics.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Rng } from '../../rng.js';
import { ToxicLink } from './toxic-link.js';
import type { ConfiguredToxic } from './toxic.js';

/** told about every connection, for metrics (the Toxiproxy API's standalone proxies) */
export interface ConnectionObserver {
  opened(): void;
  /** bytes read from the client and written to it, once the client side is closed */
  closed(c: { bytesReceived: number; bytesSent: number; durationMs: number }): void;
}

interface Connection {
  client: net.Socket;
  upstream: net.Socket;
  links: ToxicLink[];
}

export class ToxicProxy {
  private readonly server: net.Server;
  private readonly connections = new Set<Connection>();
  private toxics: ConfiguredToxic[] = [];
  port = 0;

  constructor(
    readonly endpointId: string,
    private target: { host: string; port: number },
    private readonly rng: Rng,
    private readonly observer?: ConnectionObserver,
  ) {
    this.server = net.createServer((client) => this.accept(client));
  }

  /** loopback, on a port the OS picks unless one is given (standalone Toxiproxy API proxies) */
  listen(host = '127.0.0.1', port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.port = (this.server.address() as AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  /** new toxics apply to open connections at once */
  setToxics(toxics: ConfiguredToxic[], target: { host: string; port: number }): void {
    this.toxics = toxics;
    this.target = target;
    for (const c of this.connections) for (const l of c.links) l.activate();
  }

  private accept(client: net.Socket): void {
    client.setNoDelay(true);
    const upstream = net.connect({ host: this.target.host, port: this.target.port });
    upstream.setNoDelay(true);
    const conn: Connection = { client, upstream, links: [] };
    this.connections.add(conn);
    const opened = performance.now();
    this.observer?.opened();
    let finished = 0;
    const teardown = (how: 'close' | 'reset'): void => {
      for (const l of conn.links) l.shutdown();
      if (how === 'reset') {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      } else {
        client.end();
        upstream.end();
        setTimeout(() => {
          client.destroy();
          upstream.destroy();
        }, 1000).unref();
      }
      this.connections.delete(conn);
    };
    const hooks = {
      close: () => teardown('close'),
      reset: () => teardown('reset'),
      done: () => {
        if (++finished === 2) this.connections.delete(conn);
      },
    };
    const toxics = (): ConfiguredToxic[] => this.toxics;
    conn.links.push(new ToxicLink('upstream', client, upstream, toxics, this.rng, hooks));
    conn.links.push(new ToxicLink('downstream', upstream, client, toxics, this.rng, hooks));
    const onError = (): void => teardown('reset');
    client.on('error', onError);
    upstream.on('error', onError);
    client.on('close', () => {
      this.observer?.closed({ bytesReceived: client.bytesRead, bytesSent: client.bytesWritten, durationMs: performance.now() - opened });
      for (const l of conn.links) l.shutdown();
      upstream.destroy();
      this.connections.delete(conn);
    });
  }

  /** stops accepting; open connections end now */
  close(): Promise<void> {
    for (const c of this.connections) {
      for (const l of c.links) l.shutdown();
      c.client.destroy();
      c.upstream.destroy();
    }
    this.connections.clear();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
