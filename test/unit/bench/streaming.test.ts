import { describe, expect, it } from 'vitest';
import { formatStreaming, STREAMING_GOAL_MB, type StreamingResult } from '../../bench/streaming.js';

const result = (over: Partial<StreamingResult> = {}): StreamingResult => ({
  sizeBytes: 1024 * 1024 * 1024,
  seconds: 4.25,
  mbPerSecond: 241.1,
  idleRssMB: 155.66,
  peakRssMB: 159.98,
  growthMB: 4.32,
  goalMB: STREAMING_GOAL_MB,
  met: true,
  intact: true,
  samples: 155,
  status: 200,
  tlsHandshakes: 1,
  ...over,
});

describe('the streaming row of the bench report', () => {
  it('one row: body size, time, rate, idle and peak RSS, growth, and the goal line', () => {
    const text = formatStreaming(result());
    const row = text.split('\n').find((l) => l.startsWith('meshbox streaming'))!;
    expect(row.split(/\s{2,}/)).toEqual(['meshbox streaming', '1024', '4.3', '241', '155.7', '160.0', '4.3', 'intact (sha256), mTLS']);
    expect(text).toMatch(/goal: RSS growth < 64 MB while the body streams: met$/m);
  });

  it('says NOT met for a growth over the goal or a body that did not arrive intact', () => {
    expect(formatStreaming(result({ growthMB: 80, met: false }))).toMatch(/: NOT met$/m);
    expect(formatStreaming(result({ intact: false, met: false, error: 'the app answered 503' }))).toMatch(/NOT INTACT, mTLS, the app answered 503/);
  });

  it('a failed phase is a FAILED row', () => {
    expect(formatStreaming({ error: 'meshbox up exited\nlog tail' })).toMatch(/meshbox streaming .*FAILED: meshbox up exited$/m);
  });
});
