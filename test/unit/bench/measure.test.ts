import { describe, expect, it } from 'vitest';
import { parseWrkOutput, threadUsage, tlsUsage, wrkHeaderArgs } from '../../bench/measure.js';

const WRK = `Running 10s test @ http://127.0.0.1:41235/callme/ping
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  812.00us  30.12ms   93.51%
    Req/Sec    23.98k     1.21k   25.60k    81.00%
  Latency Distribution
     50%    1.98ms
     75%    2.21ms
     90%  750.00us
     99%    1.02s
  238612 requests in 10.00s, 35.50MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  23860.70
Transfer/sec:      3.55MB
`;

describe('parseWrkOutput', () => {
  it('reads counts, rate, errors and the latency distribution in ms', () => {
    expect(parseWrkOutput(WRK)).toEqual({
      requests: 238612,
      seconds: 10,
      rps: 23860.7,
      socketErrors: { connect: 0, read: 2, write: 0, timeout: 3 },
      non2xx: 7,
      latencyMs: { mean: 2.1, p50: 1.98, p75: 2.21, p90: 0.75, p99: 1020 },
    });
  });
  it('defaults missing optional lines and derives the rate', () => {
    const summary = parseWrkOutput('  500 requests in 2.00s, 1MB read\n');
    expect(summary).toMatchObject({ requests: 500, seconds: 2, rps: 250, non2xx: 0, socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 }, latencyMs: {} });
  });
  it('throws when wrk printed no result', () => {
    expect(() => parseWrkOutput('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/no result/);
  });
});

describe('wrkHeaderArgs', () => {
  it('capitalises header names so wrk replaces its own Host', () => {
    expect(wrkHeaderArgs({ host: 'caller.example.com', 'x-request-id': 'a' })).toEqual(['-H', 'Host: caller.example.com', '-H', 'X-Request-Id: a']);
  });
});

describe('tlsUsage', () => {
  it('gives the handshakes of a step, per second and per request; a counter reset does not go negative', () => {
    expect(tlsUsage({ handshakes: 4, resumed: 1 }, { handshakes: 10, resumed: 5 }, 3, 3000)).toEqual({ handshakes: 6, resumed: 4, seconds: 3, perSecond: 2, perRequest: 0.002 });
    expect(tlsUsage({ handshakes: 9, resumed: 9 }, { handshakes: 2, resumed: 0 }, 0, 0)).toEqual({ handshakes: 0, resumed: 0, seconds: 0, perSecond: 0, perRequest: 0 });
  });
});

describe('threadUsage', () => {
  it('splits a process into main thread, busiest other thread and the rest', () => {
    const before = new Map([
      [10, 1],
      [11, 2],
      [12, 0],
    ]);
    const after = new Map([
      [10, 1.5],
      [11, 5],
      [12, 0.25],
      [13, 0.25],
    ]);
    expect(threadUsage(10, before, after, 5)).toEqual({ mainCores: 0.1, busiestCores: 0.6, otherCores: 0.1 });
  });
});
