/**
 * Text helpers for the terminal UI: fixed-width columns, short numbers and durations. Every
 * table row is built as one string (or a few coloured segments) so a frame stays a handful of
 * Ink nodes however many rows it shows.
 *
 * Widths count code points: the UI's own symbols (─ █ ░ ▸ ✓ ✗ ⏸) are one column wide, and names,
 * paths and headers from the mesh are ASCII in practice.
 */
import path from 'node:path';

/** `text` cut to `width` display columns, with an ellipsis when cut */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  const chars = [...text];
  if (chars.length <= width) return text;
  return `${chars.slice(0, width - 1).join('')}…`;
}

export function columns(text: string): number {
  return [...text].length;
}

/** `text` truncated or padded with spaces to exactly `width` display columns */
export function cell(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const t = truncate(text, width);
  const pad = ' '.repeat(Math.max(0, width - columns(t)));
  return align === 'left' ? t + pad : pad + t;
}

/** a table column: the text in `width - 1` columns, then one space before the next column */
export function col(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  return width <= 0 ? '' : `${cell(text, width - 1, align)} `;
}

export function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function clockSeconds(ms: number): string {
  return clock(ms).slice(0, 8);
}

/** 0.4ms, 12ms, 1.2s, 2m03s */
export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  if (ms < 1) return `${ms.toFixed(1)}ms`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** `text` word-wrapped to `width` columns, continuation lines indented by `indent` spaces */
export function wrap(text: string, width: number, indent: number): string[] {
  const out: string[] = [];
  const lead = /^ */.exec(text)![0];
  let current = lead;
  for (const word of text.slice(lead.length).split(' ')) {
    if (current.trim() && columns(current) + 1 + columns(word) > width) {
      out.push(current);
      current = ' '.repeat(indent) + word;
    } else {
      current = current.trim() ? `${current} ${word}` : current + word;
    }
  }
  if (current.trim()) out.push(current);
  return out;
}

export function rps(value: number | undefined): string {
  if (value === undefined) return '-';
  if (value === 0) return '0';
  if (value < 10) return value.toFixed(1);
  return String(Math.round(value));
}

/** success rate in percent (0-100) */
export function percent(value: number | undefined, digits = 1): string {
  if (value === undefined) return '-';
  if (value >= 100) return '100%';
  return `${value.toFixed(digits)}%`;
}

/** a file path relative to the working directory when that is shorter */
export function shortPath(file: string, cwd = process.cwd()): string {
  if (!path.isAbsolute(file)) return file;
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith('..') && rel.length < file.length ? rel : file;
}

/** absolute paths inside free text made relative (why lines carry `/abs/rules/x.yaml:44:7`) */
export function shortPathsIn(text: string, cwd = process.cwd()): string {
  return text.replace(/\/[^\s():]+\.ya?ml/g, (p) => shortPath(p, cwd));
}

/**
 * Whole percentages of `values` that add up to exactly 100 (largest remainder), so a split reads
 * `v1 20% / v2 80%` and never `v1 21% / v2 80%`.
 */
export function wholePercents(values: readonly number[]): number[] {
  const total = values.reduce((a, b) => a + b, 0);
  if (total <= 0) return values.map(() => 0);
  const exact = values.map((v) => (v * 100) / total);
  const floors = exact.map(Math.floor);
  let missing = 100 - floors.reduce((a, b) => a + b, 0);
  const order = exact.map((v, i) => [v - floors[i]!, i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (missing <= 0) break;
    floors[i]!++;
    missing--;
  }
  return floors;
}

/** `█████░░░░░` for a 0-100 share */
export function bar(share: number, width: number): string {
  const full = Math.max(0, Math.min(width, Math.round((share / 100) * width)));
  return '█'.repeat(full) + '░'.repeat(width - full);
}

/**
 * The route a request matched, from its `why` lines: the VirtualService's name, with the index of
 * its `http` route when that is not the first (`callme-service-route[2]`), or the
 * route name Envoy reports (`default`) when no VirtualService matched.
 */
export function matchedRoute(why: readonly string[], routeName: string | undefined): string {
  for (const line of why) {
    const m = /^VirtualService [^\s/]+\/(\S+) http\[(\d+)\].*: matched/.exec(line);
    if (m) return m[2] === '0' ? m[1]! : `${m[1]}[${m[2]}]`;
  }
  return routeName ?? '-';
}
