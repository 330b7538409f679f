/**
 * ToxicLink: one direction of one proxied connection. Bytes from `source` go through the
 * toxics active for this stream, in order, and are written to `sink`. The toxic list is read
 * per chunk, so toxics added or removed while the connection is open apply at once (as
 * Toxiproxy rewires live links); whether a toxic applies to this link is rolled once, with its
 * `toxicity`, when the link first sees it.
 */
import type { Socket } from 'node:net';
import type { ToxicStream } from '../../faults/fault-spec.js';
import type { Rng } from '../../rng.js';
import type { Chunk, ConfiguredToxic, LinkControl, Toxic } from './toxic.js';

const HIGH_WATER = 64;

export interface LinkHooks {
  /** closes the whole connection (FIN both ways) */
  close(): void;
  /** resets the whole connection (RST both ways) */
  reset(): void;
  /** the link finished (its stream ended or the connection closed) */
  done(): void;
}

export class ToxicLink implements LinkControl {
  private readonly queue: Chunk[] = [];
  private running = false;
  private ended = false;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sleeps = new Set<() => void>();
  /** per toxic name: did it roll in (toxicity), and its per-connection implementation */
  private readonly instances = new Map<ConfiguredToxic, Toxic | null>();

  constructor(
    readonly stream: ToxicStream,
    private readonly source: Socket,
    private readonly sink: Socket,
    private readonly toxics: () => readonly ConfiguredToxic[],
    readonly rng: Rng,
    private readonly hooks: LinkHooks,
  ) {
    source.on('data', (data: Buffer) => {
      this.queue.push({ data, at: performance.now() });
      if (this.queue.length > HIGH_WATER) source.pause();
      void this.pump();
    });
    source.on('end', () => {
      this.ended = true;
      void this.pump();
    });
    this.activate();
  }

  /** the toxics of this stream that apply to this link, created (and started) on first sight */
  private active(): Toxic[] {
    const out: Toxic[] = [];
    for (const t of this.toxics()) {
      if (t.stream !== this.stream) continue;
      let inst = this.instances.get(t);
      if (inst === undefined) {
        inst = this.rng.next() < t.toxicity ? t.create() : null;
        this.instances.set(t, inst);
        inst?.start?.(this);
      }
      if (inst) out.push(inst);
    }
    return out;
  }

  /** re-reads the toxic list (called when toxics change, so timers of new toxics start now) */
  activate(): void {
    if (!this.closed) this.active();
  }

  private async pump(): Promise<void> {
    if (this.running || this.closed) return;
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const chunk = this.queue.shift()!;
        if (this.queue.length < HIGH_WATER / 2) this.source.resume();
        await this.through(chunk, this.active(), 0);
      }
      if (this.ended && this.queue.length === 0 && !this.closed) {
        for (const t of this.active()) if (t.beforeEnd) await t.beforeEnd(this);
        if (!this.closed) {
          this.sink.end();
          this.hooks.done();
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async through(chunk: Chunk, chain: Toxic[], i: number): Promise<void> {
    if (this.closed) return;
    if (i === chain.length) {
      if (!this.sink.write(chunk.data)) await new Promise<void>((r) => this.sink.once('drain', r));
      return;
    }
    const out = await chain[i]!.process(chunk, this);
    for await (const piece of out as AsyncIterable<Chunk>) {
      if (this.closed) return;
      await this.through(piece, chain, i + 1);
    }
  }

  sleep(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(t);
        this.sleeps.delete(wake);
        resolve(false);
      };
      const t = setTimeout(() => {
        this.sleeps.delete(wake);
        resolve(!this.closed);
      }, ms);
      this.sleeps.add(wake);
    });
  }

  timer(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }

  close(): void {
    this.hooks.close();
  }

  reset(): void {
    this.hooks.reset();
  }

  /** stops the link: pending sleeps wake up, timers are cleared */
  shutdown(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const wake of [...this.sleeps]) wake();
    this.queue.length = 0;
  }
}
