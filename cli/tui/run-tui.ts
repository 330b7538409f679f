/**
 * `meshbox up` in a terminal: opens the UI at once, starts the sandbox behind it (the UI shows
 * the workloads coming up), and on `q`, Ctrl-C or SIGTERM stops the load generator and every
 * process and port the sandbox started, then gives the terminal back. When the terminal itself
 * goes away (SIGHUP, failing writes) it stops everything the same way, writing nothing more.
 *
 *   runTui ─┬─ alternate screen + Ink render(App) ── keys ──> SandboxController ──> Sandbox
 *           ├─ ViewStore (events -> snapshots, <= 10/s)
 *           └─ sandbox.up() in the background: failure -> error printed after the UI closes
 */
import { MeshError } from '../../sandbox/errors.js';
import type { Sandbox } from '../../sandbox/sandbox.js';
import { printError, type Io } from '../output.js';
import { createSandboxController } from './sandbox-controller.js';
import { captureConsole, enterFullScreen } from './terminal.js';
import { ViewStore } from './view-store.js';

export interface TuiOptions {
  color: boolean;
  /** collect the workloads' own output for the logs view; @default true */
  logs?: boolean;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
}

/** UI frames per second at most (the store publishes at most 10 snapshots a second; keys render at once) */
const MAX_FPS = 15;
/** how long quitting during start-up waits for the workloads to have been launched */
const START_SETTLE_MS = 15_000;

/** a write to a terminal that is gone (closed window, hung-up session) */
function isClosedTerminal(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EIO' || code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

function ciEnv(): boolean {
  const set = (k: string): boolean => k in process.env && process.env[k] !== '0' && process.env[k] !== 'false';
  return set('CI') || set('CONTINUOUS_INTEGRATION');
}

/**
 * The terminal UI runs when stdout is a terminal and `--headless` was not given. Under CI
 * (`CI` set) Ink only writes its last frame, so CI logs get the plain lines instead.
 */
export function shouldUseTui(opts: { headless?: boolean }, stdout: NodeJS.WriteStream = process.stdout): boolean {
  return !opts.headless && stdout.isTTY === true && !ciEnv();
}

/**
 * Ink, React and the App, loaded with React's production build unless NODE_ENV says otherwise:
 * the development build is several times slower per frame and records performance entries that
 * pile up. NODE_ENV is put back at once, so the workloads meshbox starts do not inherit it.
 */
export async function loadUi() {
  const previous = process.env.NODE_ENV;
  if (previous === undefined) process.env.NODE_ENV = 'production';
  try {
    const [ink, react, app] = await Promise.all([import('ink'), import('react'), import('./App.js')]);
    return { render: ink.render, createElement: react.createElement, App: app.App };
  } finally {
    if (previous === undefined) delete process.env.NODE_ENV;
  }
}

export async function runTui(sandbox: Sandbox, opts: TuiOptions, io: Io): Promise<number> {
  const stdout = opts.stdout ?? process.stdout;
  const stdin = opts.stdin ?? process.stdin;
  // the screen is taken at once, with a line to look at while Ink and React load
  const screen = enterFullScreen(stdout, stdin, 'meshbox: starting…');
  const { render, createElement, App } = await loadUi();
  screen.clear();
  const controller = createSandboxController(sandbox);
  const store = new ViewStore(controller, { logs: opts.logs ?? true }).start();
  const releaseConsole = captureConsole((level, text) => store.note(level, text));

  let quitRequested!: () => void;
  const quitting = new Promise<void>((resolve) => (quitRequested = resolve));
  let fatal: unknown;

  const ink = render(
    createElement(App, {
      store,
      controller,
      color: opts.color,
      interactive: stdin.isTTY === true,
      onQuit: () => quitRequested(),
    }),
    { stdout, stdin, exitOnCtrlC: false, patchConsole: false, maxFps: MAX_FPS },
  );

  // Ink unmounts on its own only when rendering failed: stop everything and report it
  ink.waitUntilExit().then(
    () => quitRequested(),
    (err: unknown) => {
      fatal ??= err;
      quitRequested();
    },
  );

  // the terminal closed (SIGHUP, or writes fail): stop everything quietly, write nothing more
  let terminalGone = false;
  const onTerminalGone = (): void => {
    terminalGone = true;
    screen.abandon();
    quitRequested();
  };
  const onOutputError = (e: NodeJS.ErrnoException): void => {
    if (isClosedTerminal(e)) onTerminalGone();
  };
  stdout.on('error', onOutputError);

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGHUP') return onTerminalGone();
    if (++signals > 1) {
      screen.restore();
      io.err(`second ${signal}: exiting now`);
      process.exit(130);
    }
    store.note('warn', `${signal}: stopping the sandbox`);
    store.setPhase('stopping', signal);
    quitRequested();
  };
  const onCrash = (err: unknown): void => {
    if (isClosedTerminal(err)) return onTerminalGone();
    fatal ??= err;
    quitRequested();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  // the sandbox failed while running (its data plane died): it stops itself; the UI closes with its error
  sandbox.onFatal(onCrash);

  let upSettled = false;
  const started = sandbox.up().then(
    () => {
      upSettled = true;
    },
    (e: unknown) => {
      upSettled = true;
      if (e instanceof MeshError && e.code === 'MESH_ERR_NOT_READY') {
        // the sandbox keeps running: instances join the mesh once healthy
        store.note('error', `${e.message} (${e.hint})`);
        return;
      }
      store.setPhase('failed', e instanceof Error ? e.message : String(e));
      fatal ??= e;
      quitRequested();
    },
  );
  // workloads exist once the sandbox says it is ready (health may still be pending)
  const launched = new Promise<void>((resolve) => {
    const off = sandbox.onEvent((e) => {
      if (e.type === 'mesh:sandbox:ready') {
        off();
        resolve();
      }
    });
  });

  await quitting;
  store.setPhase('stopping', 'stopping');
  try {
    // everything is going down: requests in flight are cancelled at once
    await controller.load.stop({ graceMs: 0 });
    // quitting during start-up: let up() launch what it is launching, so down() stops all of it
    if (!upSettled) await Promise.race([started, launched, new Promise((r) => setTimeout(r, START_SETTLE_MS).unref())]);
    await sandbox.down();
  } catch (e) {
    fatal ??= e;
  } finally {
    store.publish();
    store.stop();
    ink.unmount();
    await ink.waitUntilExit().catch(() => undefined);
    releaseConsole();
    screen.restore();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
  // nobody is left to read anything: the sandbox is down, exit as a hung-up process does (the
  // handlers stay, so late write errors to the dead terminal do not crash the exit)
  if (terminalGone) return 129;
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  stdout.off('error', onOutputError);
  if (fatal !== undefined) {
    return printError(io, fatal, opts.color);
  }
  const info = controller.info();
  io.out(`meshbox: sandbox ${info.id || info.name || ''} stopped; every workload and sidecar it started is gone`.replace('  ', ' '));
  return 0;
}
