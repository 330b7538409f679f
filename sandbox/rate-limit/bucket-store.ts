/**
 * The data plane's token buckets. A bucket lives as long as its filter config does in Envoy: it
 * is kept across snapshots while the proxy, the place it is configured (filter instance, route
 * or virtual host) and its settings stay the same; a changed config starts a new, full bucket.
 * Per-connection buckets (`local_rate_limit_per_downstream_connection`) live with their socket.
 */
import type { Socket } from 'node:net';
import type { TokenBucketConfig } from './rate-limit-types.js';
import { TokenBucket, type Clock } from './token-bucket.js';

/** more distinct configs than this (rule churn): the oldest buckets go */
const MAX_BUCKETS = 10_000;

let clock: Clock = Date.now;
const buckets = new Map<string, TokenBucket>();
const perConnection = new WeakMap<Socket, Map<string, TokenBucket>>();

/** tests: a fake clock for the buckets made from now on */
export function setRateLimitClock(c: Clock | undefined): void {
  clock = c ?? Date.now;
  buckets.clear();
}

const idOf = (key: string, config: TokenBucketConfig): string => `${key}|${config.maxTokens}/${config.tokensPerFill}/${config.fillIntervalMs}`;

/**
 * A new snapshot: the buckets of configs it no longer has go (a filter removed and added again
 * starts full, as Envoy builds a new one). `live`: proxy id, scope and bucket of each config.
 */
export function retainBuckets(live: ReadonlyArray<{ key: string; config: TokenBucketConfig }>): void {
  const keep = new Set(live.map((l) => idOf(l.key, l.config)));
  for (const id of buckets.keys()) if (!keep.has(id)) buckets.delete(id);
}

export function bucketFor(key: string, config: TokenBucketConfig, socket?: Socket): TokenBucket {
  const id = idOf(key, config);
  if (socket) {
    let own = perConnection.get(socket);
    if (!own) perConnection.set(socket, (own = new Map()));
    let b = own.get(id);
    if (!b) own.set(id, (b = new TokenBucket(config, clock)));
    return b;
  }
  let b = buckets.get(id);
  if (!b) {
    if (buckets.size >= MAX_BUCKETS) buckets.delete(buckets.keys().next().value!);
    buckets.set(id, (b = new TokenBucket(config, clock)));
  }
  return b;
}
