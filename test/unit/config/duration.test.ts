import { describe, expect, it } from 'vitest';
import { durationProblem, formatDuration, isValidDuration, parseDuration, tryParseDuration, DurationError } from '../../../sandbox/config/duration.js';

describe('parseDuration', () => {
  it.each([
    ['0.5s', 500],
    ['100ms', 100],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['2.5s', 2500],
    ['1us', 0.001],
    ['1µs', 0.001],
    ['1μs', 0.001],
    ['1000000ns', 1],
    ['1h30m', 5_400_000],
    ['1m0.5s', 60_500],
    ['.5s', 500],
    ['0', 0],
    ['0s', 0],
    ['7s', 7000],
    ['24h', 86_400_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms, 9);
    expect(isValidDuration(text)).toBe(true);
  });

  it.each([
    ['', 'empty'],
    ['-1s', 'negative'],
    ['5', 'no unit'],
    ['1.5', 'no unit'],
    ['5 s', 'spaces'],
    [' 5s', 'spaces'],
    ['5sec', 'unexpected'],
    ['s', 'unexpected'],
    ['1d', 'unexpected'],
    ['abc', 'unexpected'],
    ['+5s', 'unexpected'],
    ['5S', 'unexpected'],
    ['1.2.3s', 'unexpected'],
  ])('rejects %j (%s)', (text, why) => {
    expect(isValidDuration(text)).toBe(false);
    expect(tryParseDuration(text)).toBeUndefined();
    expect(durationProblem(text)).toContain(why);
    expect(() => parseDuration(text)).toThrow(DurationError);
  });

  it('rejects non-strings', () => {
    expect(isValidDuration(5)).toBe(false);
    expect(isValidDuration(undefined)).toBe(false);
  });

  it('formats milliseconds back', () => {
    expect(formatDuration(500)).toBe('500ms');
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(0.5)).toBe('500us');
  });
});
