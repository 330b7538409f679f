/**
 * `retries.retryOn` is a comma-separated list of Envoy retry policies and HTTP status codes;
 * Istio rejects anything else.
 */
import { closestMatch } from '../did-you-mean.js';

export const RETRY_ON_POLICIES = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;

export interface RetryOnProblem {
  entry: string;
  problem: string;
  hint: string;
}

/** Problems of each entry of a retryOn string; empty when every entry is valid. */
export function retryOnProblems(retryOn: string): RetryOnProblem[] {
  if (retryOn === '') return [];
  const out: RetryOnProblem[] = [];
  for (const entry of retryOn.split(',')) {
    if (/^\d+$/.test(entry)) {
      const code = Number(entry);
      if (code < 100 || code > 599) out.push({ entry, problem: `${entry} is not an HTTP status code`, hint: 'status codes are 100-599, e.g. `503`' });
      continue;
    }
    if ((RETRY_ON_POLICIES as readonly string[]).includes(entry)) continue;
    if (entry.trim() !== entry && (RETRY_ON_POLICIES as readonly string[]).includes(entry.trim())) {
      out.push({ entry, problem: `"${entry}" has spaces around it`, hint: 'write the list without spaces: `gateway-error,connect-failure`' });
      continue;
    }
    if (entry === '') {
      out.push({ entry, problem: 'the list has an empty entry', hint: 'remove the extra comma' });
      continue;
    }
    const guess = closestMatch(entry.replace(/_/g, '-'), RETRY_ON_POLICIES);
    out.push({
      entry,
      problem: `"${entry}" is not a retry policy`,
      hint: guess ? `did you mean \`${guess}\`?` : `use status codes or ${RETRY_ON_POLICIES.join(', ')}`,
    });
  }
  return out;
}
