/**
 * The protocol rows of `npm run bench`: the gRPC unary bench (grpc.ts: direct, one meshbox
 * sidecar, nginx grpc_pass) and the TCP bench (tcp.ts: direct, one meshbox sidecar, nginx
 * stream), each run as its own process after the HTTP/1.1 phases, bounded in time, their tables
 * printed with the report and the TCP figures in BENCH_JSON.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface ProtocolRun {
  name: 'grpc' | 'tcp';
  /** the script's table (markdown), as it printed it */
  table?: string;
  /** tcp.js's BENCH_TCP_JSON, when it printed one */
  json?: unknown;
  error?: string;
}

function runScript(args: string[], timeoutMs: number, signal: AbortSignal): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const stop = (): void => {
      if (child.exitCode === null) child.kill('SIGTERM');
    };
    const timer = setTimeout(stop, timeoutMs);
    signal.addEventListener('abort', stop, { once: true });
    child.once('close', (code) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      resolve({ code, out, err });
    });
  });
}

/** runs grpc.js then tcp.js; `quick` shortens both */
export async function runProtocolBenches(opts: { quick: boolean; nginx: boolean; signal: AbortSignal; log: (line: string) => void }): Promise<ProtocolRun[]> {
  const runs: ProtocolRun[] = [];
  const plans: Array<{ name: ProtocolRun['name']; args: string[] }> = [
    { name: 'grpc', args: [path.join(HERE, 'grpc.js'), '--seconds', opts.quick ? '2' : '5', '--rounds', opts.quick ? '1' : '2'] },
    { name: 'tcp', args: [path.join(HERE, 'tcp.js'), '--seconds', opts.quick ? '1' : '3', ...(opts.nginx ? [] : ['--no-nginx'])] },
  ];
  for (const p of plans) {
    if (opts.signal.aborted) break;
    opts.log(`bench: phase ${p.name}: ${path.basename(p.args[0]!)}`);
    const r = await runScript(p.args, 240_000, opts.signal);
    const lines = r.out.split('\n');
    const jsonLine = lines.find((l) => l.startsWith('BENCH_TCP_JSON '));
    const table = lines.filter((l) => !l.startsWith('BENCH_TCP_JSON ')).join('\n').trim();
    const run: ProtocolRun = { name: p.name, ...(table ? { table } : {}) };
    if (jsonLine) run.json = JSON.parse(jsonLine.slice('BENCH_TCP_JSON '.length)) as unknown;
    if (r.code !== 0) run.error = `${path.basename(p.args[0]!)} exited ${r.code}: ${r.err.trim().split('\n').slice(-3).join(' ')}`;
    if (run.error) opts.log(`bench: phase ${p.name} failed: ${run.error}`);
    runs.push(run);
  }
  return runs;
}

export function formatProtocols(runs: readonly ProtocolRun[]): string {
  return runs
    .map((r) => `${r.name === 'grpc' ? 'HTTP/2 (gRPC unary)' : 'TCP'}:\n${r.table ?? ''}${r.error ? `\n(failed: ${r.error})` : ''}`)
    .join('\n\n');
}
