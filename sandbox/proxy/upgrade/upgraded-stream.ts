/**
 * The upgraded stream: after the 101, bytes go both ways between the client's connection and the
 * upstream's, uninterpreted (Envoy does not parse WebSocket frames), with back-pressure each way.
 *
 * How it ends, as Envoy ends an upgraded HTTP/1.1 stream:
 * - a peer closes its side (FIN): what it sent is passed on, then the other side is closed
 *   cleanly (FIN) and given `drainMs` (Envoy's delayed close) to close too;
 * - a peer resets (or its connection fails): the other side is closed cleanly, not reset;
 * - nothing moves either way for `idleTimeoutMs` (stream_idle_timeout): both sides close.
 * The promise resolves once both connections are closed, saying who ended the stream and how.
 */
import type { Socket } from 'node:net';

export type StreamEnd =
  | { by: 'downstream' | 'upstream'; how: 'close' | 'reset'; reason?: string }
  | { by: 'proxy'; how: 'idle' };

export interface UpgradedStreamOptions {
  downstream: Socket;
  upstream: Socket;
  /** what the client sent after its request head (goes upstream first) */
  downstreamHead: Buffer;
  /** what the upstream sent after its 101 head (goes to the client first) */
  upstreamHead: Buffer;
  /** stream_idle_timeout; 0 turns it off */
  idleTimeoutMs: number;
  /** delayed close: how long a closing side waits for its peer to close */
  drainMs: number;
  /** pass the upstream's bytes on at this rate (meshbox's slow-body fault) */
  throttleBps?: number;
  /** bytes from the client, as they pass */
  received(n: number): void;
  /** bytes to the client, as they pass */
  sent(n: number): void;
}

type Side = 'downstream' | 'upstream';

export function runUpgradedStream(o: UpgradedStreamOptions): Promise<StreamEnd> {
  const { downstream, upstream } = o;
  // small frames go out at once both ways (Nagle against delayed ACKs costs 40 ms a message)
  for (const s of [downstream, upstream]) {
    s.setNoDelay(true);
    (s as Socket & { _parent?: Socket | null })._parent?.setNoDelay(true);
  }
  return new Promise((resolve) => {
    let end: StreamEnd | undefined;
    const closed = new Set<Side>();
    let drainTimer: NodeJS.Timeout | undefined;
    const socketOf = (side: Side): Socket => (side === 'downstream' ? downstream : upstream);

    let closing = false;
    /** closes both sides cleanly, once what is on its way to the client went out; whatever is still open after drainMs is destroyed */
    const closeAll = (): void => {
      if (closing) return;
      closing = true;
      toDownstream.end(() => {
        for (const s of [downstream, upstream]) if (!s.destroyed && s.writable) s.end();
        drainTimer ??= setTimeout(() => {
          downstream.destroy();
          upstream.destroy();
        }, o.drainMs);
        drainTimer.unref();
      });
    };
    const ended = (e: StreamEnd): void => {
      end ??= e;
    };

    // upstream -> downstream, optionally at a trickle
    const toDownstream = throttled(o.throttleBps, downstream, upstream, o.sent);
    const forward = (from: Side, chunk: Buffer): void => {
      if (from === 'upstream') {
        toDownstream.write(chunk);
        return;
      }
      o.received(chunk.length);
      if (!upstream.write(chunk)) downstream.pause();
    };
    upstream.on('drain', () => downstream.resume());

    for (const side of ['downstream', 'upstream'] as const) {
      const s = socketOf(side);
      s.on('data', (chunk: Buffer) => forward(side, chunk));
      s.on('end', () => {
        // a FIN: pass what it sent on, then close the other side cleanly
        ended({ by: side, how: 'close' });
        closeAll();
      });
      s.on('error', (err: NodeJS.ErrnoException) => {
        ended({ by: side, how: 'reset', reason: err.code ?? err.message });
        s.destroy();
        closeAll();
      });
      const onClose = (): void => {
        if (closed.has(side)) return;
        closed.add(side);
        // closed without a FIN or an error seen here (destroyed under us): a reset
        ended({ by: side, how: 'reset' });
        closeAll();
        if (closed.size < 2) return;
        clearTimeout(drainTimer);
        toDownstream.stop();
        resolve(end!);
      };
      s.on('close', onClose);
      // it failed before the stream started: its `close` has been emitted already
      if (s.destroyed && s.closed) queueMicrotask(onClose);
    }

    if (o.idleTimeoutMs > 0) {
      downstream.setTimeout(o.idleTimeoutMs, () => {
        ended({ by: 'proxy', how: 'idle' });
        closeAll();
      });
    } else {
      downstream.setTimeout(0);
    }

    if (o.downstreamHead.length > 0) forward('downstream', o.downstreamHead);
    if (o.upstreamHead.length > 0) forward('upstream', o.upstreamHead);
    downstream.resume();
    upstream.resume();
  });
}

interface Writer {
  write(chunk: Buffer): void;
  /** calls `done` once everything written has gone out (or at once) */
  end(done: () => void): void;
  stop(): void;
}

/**
 * Writes to `sink` what `source` sends, with back-pressure; at `bps` bytes a second (in 100 ms
 * slices) when set.
 */
function throttled(bps: number | undefined, sink: Socket, source: Socket, counted: (n: number) => void): Writer {
  if (!bps) {
    sink.on('drain', () => source.resume());
    return {
      write: (chunk) => {
        counted(chunk.length);
        if (!sink.write(chunk)) source.pause();
      },
      end: (done) => done(),
      stop: () => undefined,
    };
  }
  const slice = Math.max(1, Math.floor(bps / 10));
  const queue: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  let onEmpty: (() => void) | undefined;
  const pump = (): void => {
    timer = undefined;
    let budget = slice;
    // nobody left to trickle to
    if (sink.destroyed) queue.length = 0;
    while (budget > 0 && queue.length > 0) {
      const head = queue[0]!;
      const n = Math.min(budget, head.length);
      if (!sink.destroyed) sink.write(head.subarray(0, n));
      counted(n);
      budget -= n;
      if (n === head.length) queue.shift();
      else queue[0] = head.subarray(n);
    }
    if (queue.length > 0) timer = setTimeout(pump, 100);
    else {
      source.resume();
      onEmpty?.();
      onEmpty = undefined;
    }
  };
  return {
    write: (chunk) => {
      queue.push(chunk);
      source.pause();
      timer ??= setTimeout(pump, 100);
    },
    end: (done) => {
      if (queue.length === 0) done();
      else onEmpty = done;
    },
    stop: () => clearTimeout(timer),
  };
}
