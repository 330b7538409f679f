/**
 * gRPC as Envoy reads it: content types, the HTTP <-> gRPC status mappings, grpc-timeout parsing
 * and formatting, the deadline Istio's max_grpc_timeout gives, message counting, grpc-message
 * encoding, and the gRPC retry conditions.
 */
import { describe, expect, it } from 'vitest';
import { grpcToHttpStatus, httpToGrpcStatus, isGrpcContentType, percentEncodeGrpcMessage, grpcStatusOf } from '../../../../sandbox/proxy/grpc/grpc-status.js';
import { formatGrpcTimeout, grpcDeadline, parseGrpcTimeout } from '../../../../sandbox/proxy/grpc/grpc-timeout.js';
import { GrpcMessageCounter } from '../../../../sandbox/proxy/grpc/grpc-message-counter.js';
import { compileRetryPolicy, RetryPolicy } from '../../../../sandbox/proxy/upstream/retry-policy.js';
import { parseDuration } from '../../../../sandbox/config/duration.js';
import { decideFault } from '../../../../sandbox/proxy/filters/fault-filter.js';
import { Rng } from '../../../../sandbox/rng.js';

describe('gRPC content type (Envoy hasGrpcContentType)', () => {
  it.each([
    ['application/grpc', true],
    ['application/grpc+proto', true],
    ['application/grpc;charset=utf-8', true],
    ['application/grpc-web', false],
    ['application/grpcx', false],
    ['application/json', false],
    [undefined, false],
  ])('%s -> %s', (ct, yes) => expect(isGrpcContentType(ct)).toBe(yes));
});

describe('status mappings', () => {
  it("HTTP -> gRPC is Envoy's httpToGrpcStatus", () => {
    expect([400, 401, 403, 404, 429, 502, 503, 504, 500, 418, 200].map(httpToGrpcStatus)).toEqual([13, 16, 7, 12, 14, 14, 14, 14, 2, 2, 2]);
  });
  it("gRPC -> HTTP is Envoy's grpcToHttpStatus", () => {
    expect([0, 1, 2, 4, 8, 12, 13, 14, 16, 99].map(grpcToHttpStatus)).toEqual([200, 499, 500, 504, 429, 501, 500, 503, 401, 500]);
  });
  it('reads a well-formed grpc-status only', () => {
    expect(grpcStatusOf({ 'grpc-status': '14' })).toBe(14);
    expect(grpcStatusOf({ 'grpc-status': 'x' })).toBeUndefined();
    expect(grpcStatusOf({})).toBeUndefined();
  });
  it("percent-encodes grpc-message as Envoy's PercentEncoding (%, controls, non-ASCII)", () => {
    expect(percentEncodeGrpcMessage('upstream request timeout')).toBe('upstream request timeout');
    expect(percentEncodeGrpcMessage('100% done\n')).toBe('100%25 done%0A');
    expect(percentEncodeGrpcMessage('é')).toBe('%C3%A9');
  });
});

describe('grpc-timeout', () => {
  it('parses Envoy getGrpcTimeout units, rounding sub-milliseconds up', () => {
    expect(parseGrpcTimeout('1H')).toBe(3_600_000);
    expect(parseGrpcTimeout('2M')).toBe(120_000);
    expect(parseGrpcTimeout('3S')).toBe(3_000);
    expect(parseGrpcTimeout('150m')).toBe(150);
    expect(parseGrpcTimeout('1500u')).toBe(2);
    expect(parseGrpcTimeout('1n')).toBe(1);
    for (const bad of ['', 'm', '123456789m', '12x', '-1m', 'abcS']) expect(parseGrpcTimeout(bad)).toBeUndefined();
  });
  it('formats as Envoy toGrpcTimeout (ms while they fit in 8 digits)', () => {
    expect(formatGrpcTimeout(200)).toBe('200m');
    expect(formatGrpcTimeout(99_999_999)).toBe('99999999m');
    expect(formatGrpcTimeout(100_000_000)).toBe('100000S');
  });
  it("is the deadline under Istio's max_grpc_timeout = route timeout (0 when unset)", () => {
    expect(grpcDeadline('100m', null).timeoutMs).toBe(100);
    expect(grpcDeadline(undefined, null).timeoutMs).toBeNull();
    expect(grpcDeadline('5S', 200).timeoutMs).toBe(200);
    expect(grpcDeadline('50m', 200).timeoutMs).toBe(50);
    expect(grpcDeadline(undefined, 200).timeoutMs).toBe(200);
    expect(grpcDeadline('bogus', 200).why).toContain('malformed');
  });
});

describe('GrpcMessageCounter', () => {
  const frame = (n: number): Buffer => Buffer.concat([Buffer.from([0, 0, 0, 0, n]), Buffer.alloc(n, 1)]);
  it('counts length-prefixed messages, however they are split', () => {
    const all = Buffer.concat([frame(3), frame(0), frame(10), frame(1)]);
    for (const size of [1, 2, 5, 7, all.length]) {
      const c = new GrpcMessageCounter();
      for (let i = 0; i < all.length; i += size) c.push(all.subarray(i, i + size));
      expect(c.count).toBe(4);
    }
  });
});

describe('gRPC retry conditions (retryOn reads a trailers-only grpc-status)', () => {
  const policy = (retryOn: string): RetryPolicy => new RetryPolicy(compileRetryPolicy({ attempts: 2, retryOn }, parseDuration));
  it.each([
    ['cancelled', 1],
    ['deadline-exceeded', 4],
    ['resource-exhausted', 8],
    ['internal', 13],
    ['unavailable', 14],
  ])('%s retries grpc-status %i only', (retryOn, code) => {
    const p = policy(retryOn);
    expect(p.retriesResponse(200, { 'grpc-status': String(code) })).toBe(true);
    expect(p.retriesResponse(200, { 'grpc-status': '0' })).toBe(false);
    expect(p.retriesResponse(200, { 'grpc-status': '3' })).toBe(false);
    expect(p.retriesResponse(200, {})).toBe(false);
  });
  it("Istio's default policy retries unavailable and cancelled, and refused streams", () => {
    const p = new RetryPolicy(compileRetryPolicy(undefined, parseDuration));
    expect(p.retriesResponse(200, { 'grpc-status': '14' })).toBe(true);
    expect(p.retriesResponse(200, { 'grpc-status': '1' })).toBe(true);
    expect(p.retriesResponse(200, { 'grpc-status': '13' })).toBe(false);
    expect(p.retriesFailure('refused-stream')).toBe(true);
    expect(p.retriesFailure('reset')).toBe(false);
  });
});

describe('fault abort grpcStatus (Envoy: HTTP 200 with the gRPC status)', () => {
  it('is a 200 local reply carrying the gRPC code', () => {
    const d = decideFault({ abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } }, new Rng(1), parseDuration);
    expect(d.abort).toMatchObject({ status: 200, body: 'fault filter abort', flag: 'FI', details: 'fault_filter_abort', grpcStatus: 14 });
    expect(d.why[0]).toContain('grpc-status UNAVAILABLE');
  });
  it('httpStatus stays as it was', () => {
    const d = decideFault({ abort: { httpStatus: 503, percentage: { value: 100 } } }, new Rng(1), parseDuration);
    expect(d.abort).toMatchObject({ status: 503 });
    expect(d.abort!.grpcStatus).toBeUndefined();
  });
});
