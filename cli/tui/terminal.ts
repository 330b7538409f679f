/**
 * The terminal around the UI: the alternate screen (so the shell's scrollback is untouched and
 * comes back on exit), the cursor, raw mode, and restoring all of it on every way out: quit,
 * Ctrl-C, SIGTERM, a crash, or `process.exit` from anywhere.
 */

const ENTER_ALT_SCREEN = '\u001b[?1049h';
const LEAVE_ALT_SCREEN = '\u001b[?1049l';
const HIDE_CURSOR = '\u001b[?25l';
const SHOW_CURSOR = '\u001b[?25h';
const CLEAR = '\u001b[2J\u001b[H';

export interface FullScreen {
  /** leaves the alternate screen and gives the terminal back as it was; idempotent */
  restore(): void;
  /** the terminal is gone: restore nothing, write nothing */
  abandon(): void;
  /** blank screen, cursor at the top left (before the UI's first frame) */
  clear(): void;
}

/** Takes the alternate screen, showing `placeholder` until the UI draws. */
export function enterFullScreen(stdout: NodeJS.WriteStream, stdin: NodeJS.ReadStream, placeholder = ''): FullScreen {
  stdout.write(ENTER_ALT_SCREEN + CLEAR + HIDE_CURSOR + placeholder);
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    process.off('exit', restore);
    try {
      if (stdin.isTTY && stdin.isRaw) stdin.setRawMode(false);
    } catch {
      // stdin already closed: nothing to restore
    }
    if (!stdout.destroyed) stdout.write(SHOW_CURSOR + LEAVE_ALT_SCREEN);
  };
  // last resort: whatever ends the process, the terminal is given back
  process.on('exit', restore);
  const abandon = (): void => {
    restored = true;
    process.off('exit', restore);
  };
  return { restore, abandon, clear: () => void stdout.write(CLEAR) };
}

/** Routes console.* to `sink` while the UI owns the screen (a stray console.log would tear the frame). */
export function captureConsole(sink: (level: 'info' | 'warn' | 'error', text: string) => void): () => void {
  const methods = ['log', 'info', 'debug', 'warn', 'error'] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) {
    const level = m === 'warn' ? 'warn' : m === 'error' ? 'error' : 'info';
    console[m] = (...args: unknown[]) => sink(level, args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? (a.stack ?? a.message) : safeString(a))).join(' '));
  }
  return () => methods.forEach((m, i) => (console[m] = saved[i]!));
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  } catch {
    return String(value);
  }
}
