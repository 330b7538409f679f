/**
 * `meshbox top [--to R] [--from R] [--path P] [--method M]`: the requests of `meshbox tap`
 * aggregated by source, destination, method and path, as `linkerd viz top` shows them, sorted by
 * count. On a terminal the table is redrawn in place every --interval (default 1 s) until Ctrl-C
 * or --duration; otherwise (a pipe, a script) it is printed once when --duration ends, or
 * -o json prints the rows.
 *
 * A request is counted once: by its destination sidecar, or by the source sidecar when it never
 * reached one (a local reply: no route, no healthy upstream, an injected abort). Success = an
 * HTTP status below 500 (a reset fails).
 */
import type { RequestEvent } from '../../sandbox/events.js';
import { adminStream, resolveAdmin } from '../admin-client.js';
import { formatTable, outputFormat, printData } from '../output-format.js';
import type { Io } from '../output.js';
import { tapQuery } from './tap.js';

export interface TopOptions {
  admin?: string;
  to?: string;
  from?: string;
  path?: string;
  method?: string;
  authority?: string;
  output?: string;
  json?: boolean;
  hideSources?: boolean;
  intervalMs?: number;
  durationMs?: number;
}

export interface TopRow {
  source: string;
  destination: string;
  method: string;
  path: string;
  count: number;
  bestMs: number;
  worstMs: number;
  lastMs: number;
  successes: number;
}

export class TopTable {
  private readonly rows = new Map<string, TopRow>();

  constructor(private readonly hideSources = false) {}

  /** counts the request once (see the file comment); returns whether it was counted */
  add(e: RequestEvent): boolean {
    if (e.reporter === 'source' && e.attempts > 0) return false;
    const source = this.hideSources ? '' : e.source.workload;
    const destination = e.reporter === 'destination' ? e.proxy : e.destination.serviceName || e.authority;
    const path = e.path.split('?')[0]!;
    const key = `${source}\n${destination}\n${e.method}\n${path}`;
    let r = this.rows.get(key);
    if (!r) {
      r = { source, destination, method: e.method, path, count: 0, bestMs: Number.POSITIVE_INFINITY, worstMs: 0, lastMs: 0, successes: 0 };
      this.rows.set(key, r);
    }
    r.count++;
    r.bestMs = Math.min(r.bestMs, e.durationMs);
    r.worstMs = Math.max(r.worstMs, e.durationMs);
    r.lastMs = e.durationMs;
    if (e.status > 0 && e.status < 500) r.successes++;
    return true;
  }

  sorted(): TopRow[] {
    return [...this.rows.values()].sort((a, b) => b.count - a.count || a.path.localeCompare(b.path));
  }

  lines(): string[] {
    const ms = (v: number): string => (v < 1 ? `${Math.round(v * 1000)}µs` : `${Math.round(v)}ms`);
    const headers = [...(this.hideSources ? [] : ['Source']), 'Destination', 'Method', 'Path', 'Count', 'Best', 'Worst', 'Last', 'Success Rate'];
    const rows = this.sorted().map((r) => [
      ...(this.hideSources ? [] : [r.source]),
      r.destination,
      r.method,
      r.path,
      String(r.count),
      ms(r.bestMs),
      ms(r.worstMs),
      ms(r.lastMs),
      `${((r.successes / r.count) * 100).toFixed(2)}%`,
    ]);
    return formatTable(headers, rows);
  }
}

export async function runTop(
  o: TopOptions,
  io: Io,
  tty = process.stdout.isTTY === true,
  screen: (text: string) => void = (text) => void process.stdout.write(text),
): Promise<number> {
  const format = outputFormat(o, ['table', 'json']);
  const admin = resolveAdmin(o.admin);
  const table = new TopTable(o.hideSources);
  const live = tty && format === 'table';
  const stream = await adminStream(`${admin}/tap${tapQuery(o)}`, 'GET', undefined, (line) => {
    if (line['type'] === 'mesh:request:end') table.add(line as unknown as RequestEvent);
  });
  const draw = (): void => {
    // home + clear screen, then the table (linkerd viz top redraws full screen)
    screen(`\u001b[H\u001b[2J(press Ctrl-C to quit)\n${table.lines().join('\n')}\n`);
  };
  const redraw = live ? setInterval(draw, o.intervalMs ?? 1000) : undefined;
  let stoppedByUs = false;
  const stop = (): void => {
    stoppedByUs = true;
    stream.close();
  };
  const timer = o.durationMs ? setTimeout(stop, o.durationMs) : undefined;
  const onInt = (): void => stop();
  process.once('SIGINT', onInt);
  await stream.done;
  process.off('SIGINT', onInt);
  if (redraw) clearInterval(redraw);
  if (timer) clearTimeout(timer);
  if (format === 'json') printData(io, table.sorted(), 'json');
  else if (live) draw();
  else for (const l of table.lines()) io.out(l);
  if (!stoppedByUs) {
    io.err('top: the sandbox closed the stream (it stopped)');
    return 1;
  }
  return 0;
}
