/**
 * Durations as Istio accepts them in YAML (`timeout: 0.5s`, `baseEjectionTime: 1m`): the
 * protobuf Duration JSON form (`"1.5s"`) extended, as Istio's CRD validation does, to Go's
 * `time.ParseDuration` syntax: one or more `<number><unit>` parts (`1h30m`, `2.5s`, `100ms`),
 * units `h`, `m`, `s`, `ms`, `us` (also `µs`/`μs`), `ns`, fractions allowed (`.5s`), and the bare
 * `0`. Signs, spaces, missing units and negative values are rejected.
 */

const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign
  'μs': 1e-3, // U+03BC Greek mu
  ns: 1e-6,
};

const PART = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|μs|ns)/y;

export class DurationError extends Error {
  constructor(readonly input: string, reason: string) {
    super(`invalid duration ${JSON.stringify(input)}: ${reason}`);
    this.name = 'DurationError';
  }
}

/** Why `text` is not a valid duration, or undefined when it is one. */
export function durationProblem(text: string): string | undefined {
  return parse(text).problem;
}

/** Milliseconds of a duration string (fractional for `us`/`ns`); throws DurationError. */
export function parseDuration(text: string): number {
  const r = parse(text);
  if (r.problem !== undefined) throw new DurationError(text, r.problem);
  return r.ms;
}

/** Like parseDuration, but undefined instead of an exception. */
export function tryParseDuration(text: string): number | undefined {
  const r = parse(text);
  return r.problem === undefined ? r.ms : undefined;
}

export function isValidDuration(text: unknown): text is string {
  return typeof text === 'string' && parse(text).problem === undefined;
}

/** A short form for explanations: `500ms`, `1.5s`, `2m`, `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms < 1) return `${Math.round(ms * 1000)}us`;
  if (ms < 1000) return `${Number(ms.toFixed(3))}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(3))}s`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Number(((ms % 60_000) / 1000).toFixed(3));
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}`;
}

function parse(text: string): { ms: number; problem?: undefined } | { ms: 0; problem: string } {
  if (text === '') return { ms: 0, problem: 'it is empty' };
  if (text === '0') return { ms: 0 };
  if (text.startsWith('-')) return { ms: 0, problem: 'durations cannot be negative' };
  if (/\s/.test(text)) return { ms: 0, problem: 'it contains spaces' };
  if (/^\d+(\.\d+)?$/.test(text)) return { ms: 0, problem: 'it has no unit' };
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) return { ms: 0, problem: `unexpected ${JSON.stringify(text.slice(pos))}; write a number and a unit (h, m, s, ms, us, ns)` };
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    pos = PART.lastIndex;
  }
  if (!Number.isFinite(total)) return { ms: 0, problem: 'it is too large' };
  return { ms: total };
}
