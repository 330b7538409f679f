/**
 * Gives memory back when a thread goes quiet (issue #13.4). Under load V8 grows each thread's
 * heap (young generation up to 32 MB, old generation to several times what is live) and keeps
 * it when the load stops: an idle `meshbox up` stayed at its peak RSS. A thread that saw work
 * and then nothing for `quietMs` runs one full garbage collection, which also shrinks the heap
 * V8 had reserved; the memory returns to the system and the RSS drops to what is live.
 *
 * The collection is V8's own `gc()`, exposed with `--expose-gc` (set at run time, before the
 * first use; a new context then sees the function). It runs twice per quiet period, `quietMs`
 * apart (V8 shrinks its young generation only on a collection that finds the recent allocation
 * rate low, which the first one, right after the work, often does not), and never under load:
 * the check is a counter compared every `checkMs` on an unref'd timer.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

let collect: (() => void) | undefined | null;

/** V8's full collection, or null where it cannot be had */
export function fullGc(): (() => void) | null {
  if (collect !== undefined) return collect;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    collect = typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    collect = null;
  }
  return collect;
}

export interface IdleTrimOptions {
  /** quiet time before a collection (default 5 s) */
  quietMs?: number;
  /** how often activity is checked (default 1 s) */
  checkMs?: number;
  /** runs the collection (default V8's full gc) */
  gc?: () => void;
  /** told after each collection (tests, stats) */
  onTrim?: () => void;
}

export class IdleTrimmer {
  private activity = 0;
  private seen = 0;
  private quietSince = 0;
  /** collections still to run in this quiet period (2 after any activity, 0 once done) */
  private pending: number;
  private readonly timer: NodeJS.Timeout | undefined;
  /** collections run so far */
  trims = 0;

  constructor(private readonly o: IdleTrimOptions = {}) {
    const gc = o.gc ?? fullGc();
    // collections once the start-up is over (config parsing, certificates, warm-up)
    this.pending = 2;
    this.quietSince = performance.now();
    if (!gc) return;
    const quietMs = o.quietMs ?? 5_000;
    this.timer = setInterval(() => {
      const now = performance.now();
      if (this.activity !== this.seen) {
        this.seen = this.activity;
        this.quietSince = now;
        this.pending = 2;
        return;
      }
      if (this.pending === 0 || now - this.quietSince < quietMs) return;
      this.pending--;
      // the next one, if any, after another quiet period
      this.quietSince = now;
      gc();
      this.trims++;
      this.o.onTrim?.();
    }, o.checkMs ?? 1_000);
    this.timer.unref();
  }

  /** something happened (requests ended, events arrived): the thread is not idle */
  poke(n = 1): void {
    this.activity += n;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
