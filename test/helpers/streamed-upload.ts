/**
 * Streamed request bodies for tests and the bench: a deterministic byte stream of any size
 * (xorshift32, produced as it is sent, never held whole), uploaded with back-pressure, its
 * sha256 computed on the way; and a server-side hasher.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Readable } from 'node:stream';

export const UPLOAD_CHUNK = 64 * 1024;

/** `size` bytes in `UPLOAD_CHUNK` pieces, the same for a seed */
export function* pattern(size: number, seed = 1): Generator<Buffer> {
  let x = seed >>> 0 || 1;
  for (let sent = 0; sent < size; sent += UPLOAD_CHUNK) {
    const n = Math.min(UPLOAD_CHUNK, size - sent);
    const words = new Uint32Array(Math.ceil(n / 4));
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    yield Buffer.from(words.buffer, 0, n);
  }
}

export function sha256Of(size: number, seed = 1): string {
  const h = createHash('sha256');
  for (const c of pattern(size, seed)) h.update(c);
  return h.digest('hex');
}

/** reads a stream to its end: its length and sha256 */
export function hashStream(r: Readable): Promise<{ length: number; sha256: string; complete: boolean }> {
  return new Promise((resolve) => {
    const h = createHash('sha256');
    let length = 0;
    let done = false;
    const finish = (complete: boolean): void => {
      if (done) return;
      done = true;
      resolve({ length, sha256: h.digest('hex'), complete });
    };
    r.on('data', (c: Buffer) => {
      length += c.length;
      h.update(c);
    });
    r.on('end', () => finish(true));
    r.on('error', () => finish(false));
    r.on('close', () => finish(false));
  });
}

export interface UploadResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** bytes the client handed to its socket */
  sent: number;
  sha256: string;
  /** the request failed (reset, closed) before a response */
  error?: string;
}

export interface UploadOptions {
  port: number;
  host: string;
  path: string;
  size: number;
  seed?: number;
  /** send `content-length` (default) or chunked */
  chunked?: boolean;
  headers?: Record<string, string>;
  /** called after each chunk is accepted; may wait (to pause the upload) */
  onProgress?: (sent: number) => Promise<void> | void;
  /** stop writing (and destroy the request) once this returns true */
  abortWhen?: (sent: number) => boolean;
  agent?: http.Agent | false;
}

/** One upload: the pattern streamed with back-pressure; resolves with the response (or the error). */
export function upload(o: UploadOptions): Promise<UploadResult> {
  return new Promise((resolve) => {
    const h = createHash('sha256');
    let sent = 0;
    let settled = false;
    const done = (r: Omit<UploadResult, 'sent' | 'sha256'>): void => {
      if (settled) return;
      settled = true;
      resolve({ ...r, sent, sha256: h.digest('hex') });
    };
    const headers: Record<string, string> = { host: o.host, ...o.headers };
    if (!o.chunked) headers['content-length'] = String(o.size);
    const req = http.request({ host: '127.0.0.1', port: o.port, method: 'POST', path: o.path, headers, agent: o.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), error: e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => done({ status: 0, headers: {}, body: '', error: e.code ?? e.message }));
    void (async () => {
      for (const chunk of pattern(o.size, o.seed)) {
        if (settled || req.destroyed) return;
        if (o.abortWhen?.(sent)) {
          req.destroy();
          done({ status: 0, headers: {}, body: '', error: 'aborted by the test' });
          return;
        }
        h.update(chunk);
        sent += chunk.length;
        if (!req.write(chunk)) {
          await new Promise<void>((r) => {
            const go = (): void => {
              req.off('drain', go);
              req.off('close', go);
              r();
            };
            req.on('drain', go);
            req.on('close', go);
          });
        }
        await o.onProgress?.(sent);
      }
      if (!settled && !req.destroyed) req.end();
    })();
  });
}
