/**
 * One upstream attempt of an upgrade request: the request head goes to one endpoint on a new
 * connection, made by the cluster's connection pool factory so the transport is the one any
 * request to that endpoint gets (auto mTLS between sidecars, the DestinationRule's tls, plaintext
 * to a local app; ../../security/tls-upstream.ts). The outcome is the upstream's 101 with the
 * connection (now the upgraded stream), any other response (the upstream refused the upgrade),
 * or a failure in Envoy's retry vocabulary, classified as ../upstream/upstream-request.ts does.
 *
 * A new connection each time: an upgraded connection never returns to the pool, and a pooled one
 * the upstream closed while idle would fail a request nobody may resend.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { AttemptFailure } from '../upstream/upstream-request.js';

export type UpgradeOutcome =
  | { kind: 'switched'; response: IncomingMessage; socket: Socket; head: Buffer; serviceTimeMs: number }
  | { kind: 'response'; response: IncomingMessage; serviceTimeMs: number }
  | { kind: 'failure'; failure: AttemptFailure; reason: string };

export interface UpgradeAttemptOptions {
  host: string;
  port: number;
  /** opens the connection (the cluster pool's createConnection: TCP or TLS per endpoint) */
  connect(options: http.ClientRequestArgs): Duplex;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  connectTimeoutMs: number;
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EACCES']);

export class UpstreamUpgradeAttempt {
  private req: http.ClientRequest | undefined;
  private settled = false;
  private connected = false;
  private timer: NodeJS.Timeout | undefined;
  private resolve!: (o: UpgradeOutcome) => void;
  private outcomeSocket: Socket | undefined;
  readonly outcome: Promise<UpgradeOutcome>;

  constructor(private readonly opts: UpgradeAttemptOptions) {
    this.outcome = new Promise((resolve) => (this.resolve = resolve));
  }

  start(): this {
    const o = this.opts;
    const started = performance.now();
    const serviceTime = (): number => Math.round(performance.now() - started);
    const req = http.request({
      host: o.host,
      port: o.port,
      method: o.method,
      path: o.path,
      headers: o.headers,
      setHost: false,
      createConnection: (options: http.ClientRequestArgs) => o.connect(options) as Socket,
    });
    this.req = req;
    req.once('socket', (socket: Socket) => {
      if (!socket.connecting) {
        this.connected = true;
        return;
      }
      this.timer = setTimeout(() => this.fail('connect-failure', 'connect timeout'), o.connectTimeoutMs);
      socket.once('connect', () => {
        this.connected = true;
        clearTimeout(this.timer);
      });
    });
    req.on('upgrade', (response: IncomingMessage, socket: Socket, head: Buffer) => {
      // Node's client no longer listens on the socket it handed over
      socket.on('error', () => socket.destroy());
      if (this.settled) {
        socket.destroy();
        return;
      }
      this.outcomeSocket = socket;
      this.settle({ kind: 'switched', response, socket, head, serviceTimeMs: serviceTime() });
    });
    req.on('response', (response: IncomingMessage) => {
      // the connection carried a refused upgrade: it is not reused (no pool takes it back)
      response.once('end', () => req.destroy());
      if (this.settled) {
        response.resume();
        return;
      }
      this.settle({ kind: 'response', response, serviceTimeMs: serviceTime() });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (CONNECT_ERRORS.has(code) || !this.connected) this.fail('connect-failure', code || err.message);
      else this.fail('reset', code || err.message);
    });
    req.end();
    return this;
  }

  private fail(failure: AttemptFailure, reason: string): void {
    if (this.settled) return;
    this.settle({ kind: 'failure', failure, reason });
    this.req?.destroy();
  }

  private settle(outcome: UpgradeOutcome): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(outcome);
  }

  /** the caller took the upgraded connection: abort() no longer closes it */
  handOver(): void {
    this.outcomeSocket = undefined;
  }

  /** abandons the attempt (the client went away): its connection closes */
  abort(): void {
    if (!this.settled) this.settle({ kind: 'failure', failure: 'reset', reason: 'aborted' });
    this.req?.destroy();
    this.outcomeSocket?.destroy();
  }
}
