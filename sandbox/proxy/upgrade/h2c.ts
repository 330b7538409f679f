/**
 * `Upgrade: h2c` (RFC 7540 §3.2, HTTP/2 over cleartext by upgrade): Envoy's HTTP/1 codec does not
 * support it and serves such a request as plain HTTP/1.1: it removes the `Upgrade` header, the
 * `upgrade` and `http2-settings` tokens of `Connection` and the `HTTP2-Settings` header, and the
 * request goes on as any other (curl --http2 against a plaintext Envoy gets an HTTP/1.1 answer).
 *
 * Node's HTTP server has already handed the socket over as an upgrade when the headers say so;
 * meshbox gives it back to the HTTP codec with the request head rewritten without those
 * headers, followed by the bytes already read: the codec parses the request again (body,
 * keep-alive and pipelined requests included) and it reaches the connection manager as plain
 * HTTP/1.1.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

const H2C_TOKENS = new Set(['upgrade', 'http2-settings']);

export function isH2cUpgrade(req: IncomingMessage): boolean {
  const v = req.headers.upgrade;
  return typeof v === 'string' && v.trim().toLowerCase() === 'h2c';
}

/** the request head as received, without h2c's upgrade headers */
export function headWithoutH2c(req: IncomingMessage): Buffer {
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'upgrade' || lower === 'http2-settings') continue;
    if (lower === 'connection') {
      const kept = value
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0 && !H2C_TOKENS.has(t.toLowerCase()));
      if (kept.length > 0) lines.push(`${name}: ${kept.join(', ')}`);
      continue;
    }
    lines.push(`${name}: ${value}`);
  }
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/** hands the connection back to the HTTP codec (`parse`), as if the request had arrived without h2c */
export function serveWithoutH2c(req: IncomingMessage, socket: Socket, head: Buffer, parse: (socket: Socket) => void): void {
  socket.unshift(head.length > 0 ? Buffer.concat([headWithoutH2c(req), head]) : headWithoutH2c(req));
  parse(socket);
}
