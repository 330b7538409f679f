/**
 * Tolerances of assertions: what a measured value must be, written as bounds (`min`, `max`), or as
 * a target with a tolerance (`equals: 80, tolerance: 5` = 75..85, Chaos Toolkit's range
 * tolerance), all inclusive. Values are numbers in the assertion's unit (percent, ms, count);
 * latency bounds may also be durations (`800ms`, `1.5s`).
 */
import { parseDuration } from '../config/duration.js';

export type Unit = '%' | 'ms' | '' | 'x';

export interface BoundsSpec {
  min?: number | string;
  max?: number | string;
  equals?: number | string;
  tolerance?: number | string;
}

export interface Bounds {
  min?: number;
  max?: number;
  equals?: number;
  tolerance?: number;
}

/** A duration (`250ms`, `1.5s`) or a number of milliseconds. */
export function toMs(value: string | number): number {
  return typeof value === 'number' ? value : parseDuration(value);
}

function toNumber(value: number | string, unit: Unit): number {
  if (typeof value === 'number') return value;
  if (unit === 'ms') return parseDuration(value);
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(n)) throw new Error(`${JSON.stringify(value)} is not a number`);
  return n;
}

export function resolveBounds(spec: BoundsSpec, unit: Unit): Bounds {
  const b: Bounds = {};
  if (spec.min !== undefined) b.min = toNumber(spec.min, unit);
  if (spec.max !== undefined) b.max = toNumber(spec.max, unit);
  if (spec.equals !== undefined) b.equals = toNumber(spec.equals, unit);
  if (spec.tolerance !== undefined) b.tolerance = toNumber(spec.tolerance, unit);
  return b;
}

/** The inclusive range the bounds allow. */
export function rangeOf(b: Bounds): { low: number; high: number } {
  if (b.equals !== undefined) {
    const t = b.tolerance ?? 0;
    return { low: b.equals - t, high: b.equals + t };
  }
  return { low: b.min ?? -Infinity, high: b.max ?? Infinity };
}

export function withinBounds(value: number, b: Bounds): boolean {
  const { low, high } = rangeOf(b);
  // a hair of slack for float noise (79.99999999 vs 80)
  const eps = 1e-9 * Math.max(1, Math.abs(value));
  return value >= low - eps && value <= high + eps;
}

/** `80.5%`, `152ms`, `1.25s`, `3`, `1.5x` */
export function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
  if (unit === 'ms') {
    const abs = Math.abs(value);
    if (abs >= 1000) return `${trim(value / 1000, 2)}s`;
    return `${trim(value, abs < 10 ? 2 : 1)}ms`;
  }
  if (unit === '%') return `${trim(value, 1)}%`;
  if (unit === 'x') return `${trim(value, 2)}`;
  return trim(value, 2);
}

function trim(n: number, digits: number): string {
  return String(Number(n.toFixed(digits)));
}

/** `at least 95%`, `at most 800ms`, `80% ± 5% (75%-85%)`, `between 1 and 3`, `exactly 2` */
export function describeBounds(b: Bounds, unit: Unit): string {
  const f = (v: number): string => formatValue(v, unit);
  if (b.equals !== undefined) {
    if (!b.tolerance) return `exactly ${f(b.equals)}`;
    const { low, high } = rangeOf(b);
    return `${f(b.equals)} ± ${f(b.tolerance)} (${f(low)} to ${f(high)})`;
  }
  if (b.min !== undefined && b.max !== undefined) return `between ${f(b.min)} and ${f(b.max)}`;
  if (b.min !== undefined) return `at least ${f(b.min)}`;
  if (b.max !== undefined) return `at most ${f(b.max)}`;
  return 'any value';
}
