/**
 * One reload at a time, bursts coalesced: a call while a reload runs queues exactly one more,
 * which sees every trigger given meanwhile. Every caller gets the outcome of the reload that
 * covered its trigger.
 */
export class ReloadQueue<T> {
  private chain: Promise<unknown> = Promise.resolve();
  private queued: Promise<T> | undefined;
  private readonly triggers = new Set<string>();

  constructor(private readonly run: (triggers: string[]) => Promise<T>) {}

  push(triggers: readonly string[] = []): Promise<T> {
    for (const t of triggers) this.triggers.add(t);
    if (this.queued) return this.queued;
    const next = this.chain.then(() => {
      this.queued = undefined;
      const t = [...this.triggers];
      this.triggers.clear();
      return this.run(t);
    });
    this.queued = next;
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** resolves when nothing is running or queued */
  async idle(): Promise<void> {
    for (;;) {
      const c = this.chain;
      await c;
      if (c === this.chain && !this.queued) return;
    }
  }
}
