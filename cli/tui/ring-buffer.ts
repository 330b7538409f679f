/**
 * A fixed-capacity ring: O(1) push, the oldest item is overwritten when full. The terminal UI
 * keeps its traffic tap and its logs in rings, so memory stays bounded at any request rate.
 */
export class RingBuffer<T> {
  private readonly items: Array<T | undefined>;
  private start = 0;
  private size = 0;
  /** items ever pushed: a cheap "did anything arrive?" for change detection */
  total = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    this.total++;
    if (this.size < this.capacity) {
      this.items[(this.start + this.size) % this.capacity] = item;
      this.size++;
      return;
    }
    this.items[this.start] = item;
    this.start = (this.start + 1) % this.capacity;
  }

  /** the newest `count` items (all by default), oldest first */
  last(count = this.size): T[] {
    const n = Math.max(0, Math.min(count, this.size));
    const out = new Array<T>(n);
    const first = this.size - n;
    for (let i = 0; i < n; i++) out[i] = this.items[(this.start + first + i) % this.capacity] as T;
    return out;
  }

  clear(): void {
    this.items.fill(undefined);
    this.start = 0;
    this.size = 0;
  }
}
