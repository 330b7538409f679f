/**
 * `success-rate`: the share of requests that got an answer other than 5xx (as Istio's dashboards
 * count success); a gRPC call succeeds when its `grpc-status` is 0 (OK), as Kiali counts gRPC
 * errors, whatever its HTTP status (a trailers-only UNAVAILABLE is HTTP 200).
 */
import type { AssertionType } from './assertion-type.js';
import { countsOf, percentOf } from './assertion-type.js';

export const successRate: AssertionType = {
  type: 'success-rate',
  summary: 'Share of requests answered with a status other than 5xx (gRPC calls: grpc-status 0), in percent (a request that got no answer at all counts as a failure).',
  kind: 'requests',
  unit: '%',
  properties: {},
  measure(_config, { requests }) {
    const ok = requests.filter(succeeded).length;
    return { value: percentOf(ok, requests.length), what: 'success rate', detail: `status ${countsOf(requests, statusKey)}` };
  },
};

/** did this request succeed: an HTTP answer below 500, or for gRPC grpc-status 0 */
export function succeeded(e: { status: number; grpc?: { status?: number } }): boolean {
  if (e.status <= 0) return false;
  if (e.grpc?.status !== undefined) return e.grpc.status === 0;
  return e.status < 500;
}

export function statusKey(e: { status: number; responseFlags: string; grpc?: { status?: number } }): string {
  const flags = e.responseFlags && e.responseFlags !== '-' ? ` ${e.responseFlags}` : '';
  const grpc = e.grpc?.status !== undefined ? ` grpc-status ${e.grpc.status}` : '';
  return `${e.status === 0 ? 'no answer' : e.status}${grpc}${flags}`;
}
