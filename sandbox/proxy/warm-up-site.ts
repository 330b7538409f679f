/**
 * The data plane's warm-up, on the worker side (issue #13.1: for seconds after "ready" the first
 * requests ran through code the JIT had not compiled yet, and queued). Before the sandbox says
 * ready, each worker drives a few hundred requests through a private copy of the request path:
 *
 *   client ─> gateway ─mTLS─> warm-a inbound ─> app ─> warm-a outbound ─mTLS─> warm-b inbound ─> app
 *
 * in a DataPlaneCore of its own (the same code as the worker's real one, so the same functions
 * get compiled), with its own listeners on loopback port 0, its own secrets and a tiny app served
 * here. Nothing of it reaches the user's apps, events, metrics, traces or admin views: the warm
 * core's events are dropped and the site is closed before ready. The main thread compiles its
 * snapshot (../control/warm-up.ts) and drives the steps.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenerConfig, MeshSnapshot } from '../control/snapshot.js';
import type { ProxySecret } from '../security/tls-secrets.js';
import { DataPlaneCore } from './data-plane-core.js';
import type { BoundListener, DownstreamLimits, ListenError } from './listener.js';

export type WarmUpStep =
  | { step: 'prepare' }
  | { step: 'bind'; listeners: ListenerConfig[] }
  /** `outbound`: the port of warm-a's outbound listener, which the app calls warm-b through */
  | { step: 'apply'; snapshot: MeshSnapshot; secrets: ProxySecret[]; outbound: number; nextHost: string }
  | { step: 'run'; port: number; host: string; requests: number; concurrency: number; maxMs: number }
  | { step: 'close' };

export interface WarmUpRun {
  sent: number;
  ok: number;
  failed: number;
  ms: number;
}

/** the app of both warm-up services: warm-a calls warm-b through its sidecar, warm-b answers */
const CALLS_NEXT = 'x-meshbox-warm-up-next';

export class WarmUpSite {
  private core: DataPlaneCore | undefined;
  private app: http.Server | undefined;
  private outbound = 0;
  private nextHost = '';
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

  constructor(
    private readonly seed: number,
    private readonly limits?: Partial<DownstreamLimits>,
  ) {}

  async step(s: WarmUpStep): Promise<unknown> {
    switch (s.step) {
      case 'prepare':
        return { appPort: await this.prepare() };
      case 'bind':
        return this.bind(s.listeners);
      case 'apply':
        this.outbound = s.outbound;
        this.nextHost = s.nextHost;
        this.core!.setSecrets(s.secrets);
        await this.core!.apply(s.snapshot);
        return true;
      case 'run':
        return this.run(s.port, s.host, s.requests, s.concurrency, s.maxMs);
      case 'close':
        await this.close();
        return true;
    }
  }

  private async prepare(): Promise<number> {
    // events of the warm core are dropped: the warm-up is invisible
    this.core = new DataPlaneCore({ seed: this.seed, limits: this.limits, emit: () => undefined });
    this.app = http.createServer({ keepAlive: true }, (req, res) => {
      req.resume();
      if (req.headers[CALLS_NEXT] === undefined) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('warm');
        return;
      }
      // warm-a: one call to warm-b through its outbound sidecar, as an app of the mesh makes
      const out = http.request({ host: '127.0.0.1', port: this.outbound, path: '/next', agent: this.agent, headers: { host: this.nextHost } }, (up) => {
        up.resume();
        up.on('end', () => res.writeHead(up.statusCode ?? 502, { 'content-type': 'text/plain' }).end('warm'));
      });
      out.on('error', () => res.writeHead(502).end());
      out.end();
    });
    await new Promise<void>((resolve, reject) => {
      this.app!.once('error', reject);
      this.app!.listen(0, '127.0.0.1', resolve);
    });
    return (this.app.address() as AddressInfo).port;
  }

  private bind(listeners: ListenerConfig[]): Promise<{ bound: BoundListener[]; errors: ListenError[] }> {
    return this.core!.bind(listeners);
  }

  /** `requests` through the gateway, `concurrency` at a time, for at most `maxMs` */
  private async run(port: number, host: string, requests: number, concurrency: number, maxMs: number): Promise<WarmUpRun> {
    const started = performance.now();
    const deadline = started + maxMs;
    let sent = 0;
    let ok = 0;
    let failed = 0;
    const one = (): Promise<void> =>
      new Promise((resolve) => {
        const req = http.request({ host: '127.0.0.1', port, path: '/warm', agent: this.agent, timeout: 2_000, headers: { host, [CALLS_NEXT]: '1' } }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) ok++;
            else failed++;
            resolve();
          });
          res.on('error', () => resolve());
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => {
          failed++;
          resolve();
        });
        req.end();
      });
    const lane = async (): Promise<void> => {
      while (sent < requests && performance.now() < deadline) {
        sent++;
        await one();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
    return { sent, ok, failed, ms: performance.now() - started };
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await this.core?.stop(0);
    this.core = undefined;
    const app = this.app;
    this.app = undefined;
    if (app) {
      app.closeAllConnections();
      await new Promise<void>((resolve) => app.close(() => resolve()));
    }
  }
}
