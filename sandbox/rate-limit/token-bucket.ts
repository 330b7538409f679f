/**
 * Envoy's local rate limit token bucket (TimerTokenBucket): it starts full (`max_tokens`); every
 * `fill_interval` from its creation a timer adds `tokens_per_fill`, up to `max_tokens`; a request
 * takes one token or, when none is left, is rate limited. The fills are counted from the clock
 * when the bucket is used (no timer runs), which gives the same tokens at every instant.
 */
import type { TokenBucketConfig } from './rate-limit-types.js';

export type Clock = () => number;

export class TokenBucket {
  private tokens: number;
  private fills = 0;
  private readonly start: number;

  constructor(
    readonly config: TokenBucketConfig,
    private readonly now: Clock = Date.now,
  ) {
    this.tokens = config.maxTokens;
    this.start = now();
  }

  private refill(): void {
    const due = Math.floor((this.now() - this.start) / this.config.fillIntervalMs);
    if (due <= this.fills) return;
    this.tokens = Math.min(this.config.maxTokens, this.tokens + (due - this.fills) * this.config.tokensPerFill);
    this.fills = due;
  }

  /** takes a token; false when the bucket is empty */
  consume(): boolean {
    this.refill();
    if (this.tokens <= 0) return false;
    this.tokens--;
    return true;
  }

  /** tokens left now */
  remaining(): number {
    this.refill();
    return this.tokens;
  }

  /** ms until the next fill */
  nextFillInMs(): number {
    const elapsed = this.now() - this.start;
    return this.config.fillIntervalMs - (elapsed % this.config.fillIntervalMs);
  }
}
