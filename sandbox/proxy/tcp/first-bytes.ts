/**
 * Reads the first bytes of a connection until a listener filter can decide (protocol detection,
 * the TLS ClientHello's SNI, a peer preamble), without losing any: the caller gets every byte
 * read and puts back (`socket.unshift`) or forwards what it does not consume.
 */
import type { Duplex } from 'node:stream';

export type PeekOutcome<T> =
  | { kind: 'decided'; value: T; data: Buffer }
  /** the peer ended its side (FIN) or the connection closed before a decision */
  | { kind: 'ended'; data: Buffer }
  /** nothing decided within the timeout */
  | { kind: 'timeout'; data: Buffer };

export interface PeekOptions {
  /** 0: no timeout (Istio's protocolDetectionTimeout default) */
  timeoutMs: number;
}

/** reads until `decide` returns a value; the socket is left paused, its bytes in `data` */
export function peek<T>(socket: Duplex, decide: (data: Buffer) => T | undefined, opts: PeekOptions): Promise<PeekOutcome<T>> {
  return new Promise((resolve) => {
    let data: Buffer = Buffer.alloc(0);
    let timer: NodeJS.Timeout | undefined;
    const finish = (o: PeekOutcome<T>): void => {
      if (timer) clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      resolve(o);
    };
    const onData = (chunk: Buffer): void => {
      data = data.length === 0 ? chunk : Buffer.concat([data, chunk]);
      const value = decide(data);
      if (value !== undefined) finish({ kind: 'decided', value, data });
    };
    const onEnd = (): void => finish({ kind: 'ended', data });
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    if (opts.timeoutMs > 0) {
      timer = setTimeout(() => finish({ kind: 'timeout', data }), opts.timeoutMs);
      timer.unref();
    }
    socket.resume();
  });
}
