/**
 * Terminal output helpers: colours only on a TTY and never with NO_COLOR (https://no-color.org).
 */
import { formatFinding, type Finding } from '../sandbox/config/findings.js';
import { MeshError } from '../sandbox/errors.js';

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/**
 * Set once stdout's reader went away (`meshbox up | head`): further output is dropped instead of
 * raising EPIPE errors in a loop; `onOutputClosed` listeners (meshbox up) stop the sandbox.
 */
let stdoutClosed = false;
const closedListeners = new Set<() => void>();
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_DESTROYED') throw e;
  if (stdoutClosed) return;
  stdoutClosed = true;
  for (const l of closedListeners) l();
});

export function onOutputClosed(listener: () => void): () => void {
  closedListeners.add(listener);
  return () => closedListeners.delete(listener);
}

export const stdio: Io = {
  out: (line) => {
    if (!stdoutClosed) process.stdout.write(`${line}\n`);
  },
  err: (line) => void process.stderr.write(`${line}\n`),
};

export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR) return true;
  return stream.isTTY === true;
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1 } as const;
export type Color = keyof typeof codes;

export function paint(enabled: boolean): (color: Color, text: string) => string {
  return (color, text) => (enabled ? `\u001b[${codes[color]}m${text}\u001b[0m` : text);
}

export function printFindings(io: Io, findings: readonly Finding[], color: boolean): void {
  const c = paint(color);
  for (const f of findings) {
    const line = formatFinding(f);
    io.err(f.severity === 'error' ? c('red', line) : f.severity === 'warning' ? c('yellow', line) : line);
  }
}

/** One clear message with what to do; a stack trace only with MESHBOX_DEBUG=1. */
export function printError(io: Io, err: unknown, color = useColor(process.stderr)): number {
  const c = paint(color);
  if (err instanceof MeshError) {
    if (err.findings.length > 0) printFindings(io, err.findings, color);
    io.err(`${c('red', 'error')} ${err.code}: ${err.message}`);
    io.err(`  ${c('bold', 'hint')}: ${err.hint}`);
    if (process.env.MESHBOX_DEBUG && err.stack) io.err(err.stack);
    return err.exitCode;
  }
  const e = err as Error;
  io.err(`${c('red', 'error')} MESH_ERR_INTERNAL: internal error: ${e?.message ?? String(err)}`);
  io.err(`  ${c('bold', 'hint')}: this is a bug in meshbox; please report it with the command you ran (MESHBOX_DEBUG=1 shows the stack)`);
  if (process.env.MESHBOX_DEBUG && e?.stack) io.err(e.stack);
  return 70;
}
