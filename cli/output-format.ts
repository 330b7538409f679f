/**
 * `-o json|yaml|wide|name` as kubectl has it, shared by the commands that print data; `--json`
 * stays an alias of `-o json`. Tables are kubectl's: upper-case headers, columns padded to the
 * widest cell and separated by three spaces.
 */
import { stringify } from 'yaml';
import { closestMatch } from '../sandbox/config/did-you-mean.js';
import { MeshError } from '../sandbox/errors.js';
import type { Io } from './output.js';

export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml' | 'name';

/** the format asked for: `-o`, else `--json`, else the table; refuses formats the command lacks */
export function outputFormat(o: { output?: string; json?: boolean }, allowed: readonly OutputFormat[]): OutputFormat {
  if (o.output === undefined) return o.json ? 'json' : 'table';
  const f = o.output.toLowerCase();
  if ((allowed as readonly string[]).includes(f) && f !== 'table') return f as OutputFormat;
  const offered = allowed.filter((a) => a !== 'table');
  const near = closestMatch(f, offered);
  throw new MeshError('MESH_ERR_USAGE', [`unknown output format "${o.output}"`], { hint: `${near ? `did you mean \`-o ${near}\`? ` : ''}use -o ${offered.join('|')}` });
}

/** prints a value as JSON (2-space indent, as kubectl) or YAML */
export function printData(io: Io, value: unknown, format: 'json' | 'yaml'): void {
  if (format === 'json') io.out(JSON.stringify(value, null, 2));
  else io.out(stringify(value, { lineWidth: 0 }).replace(/\n$/, ''));
}

/** `rightAlign`: from this column on, cells are right-aligned (linkerd's number columns) */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>, rightAlign = Number.POSITIVE_INFINITY): string[] {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i >= rightAlign ? c.padStart(widths[i]!) : i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

export function printTable(io: Io, headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  for (const l of formatTable(headers, rows)) io.out(l);
}

/**
 * `-o json|yaml` for a command that already prints JSON with `json: true`: `-o json` sets it,
 * `-o yaml` sets it and re-prints the command's JSON output as YAML. Returns the options and the
 * Io to give the command, and `flush()` to call after it ran.
 */
export function jsonOrYaml<O extends { json?: boolean; output?: string }>(o: O, io: Io): { options: O; io: Io; flush(): void } {
  const format = outputFormat(o, ['table', 'json', 'yaml']);
  if (format !== 'yaml') return { options: { ...o, json: o.json || format === 'json' }, io, flush: () => undefined };
  const lines: string[] = [];
  return {
    options: { ...o, json: true },
    io: { out: (l) => lines.push(l), err: (l) => io.err(l) },
    flush: () => {
      if (lines.length === 0) return;
      const text = lines.join('\n');
      try {
        printData(io, JSON.parse(text), 'yaml');
      } catch {
        for (const l of lines) io.out(l);
      }
    },
  };
}
