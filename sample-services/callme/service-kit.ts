/**
 * The small HTTP service frame shared by the sample services: environment, startup, per-request
 * access log, health endpoints, Spring-like error bodies and graceful shutdown.
 *
 * Each sample service keeps its own copy of this file (callme/ and caller/ hold the same text) so
 * that one service folder, compiled, runs alone: it is copied as-is into a container image and
 * imports nothing but Node built-ins.
 */
import http from 'node:http';

export interface ServiceEnv {
  /** the service name, as in `I'm callme-service v1` */
  name: string;
  version: string;
  host: string;
  port: number;
  /** milliseconds in-flight requests may take to finish after SIGTERM/SIGINT */
  shutdownGraceMs: number;
  /** false when ACCESS_LOG=off: no per-request log line (benchmarks) */
  accessLog: boolean;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>;

export interface RunningService {
  server: http.Server;
  isShuttingDown(): boolean;
}

const TEXT = 'text/plain;charset=UTF-8';
const JSON_TYPE = 'application/json';
const HEALTH_PATHS = new Set(['/actuator/health', '/actuator/health/liveness', '/actuator/health/readiness', '/healthz']);

/** Reads PORT, HOST, VERSION, SHUTDOWN_GRACE_MS and ACCESS_LOG; exits 1 with a message when invalid. */
export function readServiceEnv(name: string, env: NodeJS.ProcessEnv = process.env): ServiceEnv {
  const version = env.VERSION?.trim();
  if (!version) {
    fail(name, 'environment variable VERSION is required (for example VERSION=v1); the service does not start without it');
  }
  const port = parseIntIn(env.PORT ?? '8080', 0, 65535);
  if (port === undefined) fail(name, `PORT must be an integer between 0 and 65535, got "${env.PORT}"`);
  const shutdownGraceMs = parseIntIn(env.SHUTDOWN_GRACE_MS ?? '5000', 0, 600_000);
  if (shutdownGraceMs === undefined) fail(name, `SHUTDOWN_GRACE_MS must be a number of milliseconds, got "${env.SHUTDOWN_GRACE_MS}"`);
  const accessLog = !['off', '0', 'false', 'no'].includes((env.ACCESS_LOG ?? '').trim().toLowerCase());
  return { name, version, host: env.HOST?.trim() || '127.0.0.1', port, shutdownGraceMs, accessLog };
}

/** Prints `<name>: <message>` on stderr and exits 1. */
export function fail(name: string, message: string): never {
  process.stderr.write(`${name}: ${message}\n`);
  process.exit(1);
}

export function parseIntIn(text: string, min: number, max: number): number | undefined {
  if (!/^\s*\d+\s*$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) && value >= min && value <= max ? value : undefined;
}

/** Sends a text/plain answer; during shutdown it also closes the connection after the answer. */
export function sendText(res: http.ServerResponse, status: number, body: string): void {
  send(res, status, TEXT, body);
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON_TYPE, JSON.stringify(value));
}

/** A Spring Boot style error body (`{"timestamp","status","error","path"}`). */
export function sendError(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  status: number,
  headers: Record<string, string> = {},
): void {
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  sendJson(res, status, {
    timestamp: new Date().toISOString(),
    status,
    error: http.STATUS_CODES[status] ?? 'Error',
    path: pathOf(req),
  });
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent || res.destroyed) return;
  if (shuttingDown) res.setHeader('Connection', 'close');
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The request path without the query string (works for origin- and absolute-form targets). */
export function pathOf(req: http.IncomingMessage): string {
  return new URL(req.url ?? '/', 'http://localhost').pathname;
}

/** Reads the whole request body; rejects with status 413 above `limit` bytes. */
export function readBody(req: http.IncomingMessage, limit = 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(Object.assign(new Error(`request body larger than ${limit} bytes`), { status: 413 }));
        req.pause();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Waits `ms`, or less when the client goes away first (nobody is left to answer). */
export function sleepUnlessClosed(ms: number, res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.on('close', done);
  });
}

let shuttingDown = false;

/**
 * Starts the HTTP server: health endpoints are answered here, everything else goes to `handler`.
 * Logs a startup line and one line per request; SIGTERM/SIGINT start a graceful shutdown.
 */
export function startService(env: ServiceEnv, handler: Handler, startupNote = ''): RunningService {
  const server = http.createServer((req, res) => {
    const started = process.hrtime.bigint();
    // Health probes (every few seconds per instance) are not logged, as Spring does not log them.
    if (env.accessLog && !HEALTH_PATHS.has(pathOf(req))) {
      res.on('close', () => {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const outcome = res.writableFinished ? '' : ' (client closed)';
        process.stdout.write(`${req.method} ${req.url} ${res.statusCode} ${Math.round(ms)}ms${outcome}\n`);
      });
    }
    res.on('finish', () => {
      if (shuttingDown) server.closeIdleConnections();
    });
    dispatch(req, res, handler);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code !== 'ECONNRESET' && socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    const reason = err.code === 'EADDRINUSE' ? 'the port is already in use' : err.message;
    fail(env.name, `cannot listen on ${env.host}:${env.port}: ${reason}`);
  });
  server.listen(env.port, env.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : env.port;
    const note = startupNote ? `; ${startupNote}` : '';
    process.stdout.write(`${env.name} ${env.version} listening on http://${env.host}:${port} (pid ${process.pid})${note}\n`);
  });
  const shutdown = (signal: NodeJS.Signals): void => {
    if (shuttingDown) {
      process.stdout.write(`${env.name}: ${signal} again, closing all connections now\n`);
      server.closeAllConnections();
      process.exit(0);
    }
    shuttingDown = true;
    process.stdout.write(`${env.name}: ${signal} received, finishing in-flight requests (up to ${env.shutdownGraceMs}ms)\n`);
    server.close(() => {
      process.stdout.write(`${env.name}: stopped\n`);
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => {
      process.stdout.write(`${env.name}: grace period over, closing remaining connections\n`);
      server.closeAllConnections();
      process.exit(0);
    }, env.shutdownGraceMs).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  return { server, isShuttingDown: () => shuttingDown };
}

function dispatch(req: http.IncomingMessage, res: http.ServerResponse, handler: Handler): void {
  const path = pathOf(req);
  if (HEALTH_PATHS.has(path)) {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(req, res, 405, { Allow: 'GET, HEAD' });
    // Like Spring during graceful shutdown: readiness goes down so no new traffic is sent here.
    return shuttingDown ? sendJson(res, 503, { status: 'OUT_OF_SERVICE' }) : sendJson(res, 200, { status: 'UP' });
  }
  Promise.resolve()
    .then(() => handler(req, res))
    .catch((err: unknown) => {
      const status = (err as { status?: number }).status ?? 500;
      if (status === 500) process.stderr.write(`${req.method} ${req.url} failed: ${(err as Error).stack ?? String(err)}\n`);
      sendError(req, res, status);
    });
}
