/**
 * The real `meshbox up` in a pseudo-terminal (tmux, 120x40), driven by keys as a person would:
 * the UI appears, the sample mesh comes up, the load key makes requests flow and shows the 80/20
 * split, an abort injected from the keyboard shows in the instances' success rates and in the
 * tap, the detail of a request to v1 says why it went there, and `q` stops everything and gives
 * the terminal back, leaving no process and no listening port.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortOpen } from '../../sandbox/runtime/ports.js';
import { CLI, ROOT } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

function hasTmux(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    // CI must run this test (.ci/run installs tmux): missing tmux there is a failure, not a skip
    if (process.env['CI']) throw new Error('CI: the terminal test needs tmux, which .ci/run installs');
    process.stderr.write('\n  SKIPPED meshbox up in a terminal: tmux is not installed.\n\n');
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** every descendant of pid, from /proc */
function descendants(pid: number): number[] {
  const out: number[] = [];
  const walk = (p: number): void => {
    let children: string;
    try {
      children = execFileSync('pgrep', ['-P', String(p)], { encoding: 'utf8' });
    } catch {
      return;
    }
    for (const c of children.split('\n').filter(Boolean).map(Number)) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!hasTmux())('meshbox up in a terminal (tmux)', () => {
  const socket = `meshbox-tui-${process.pid}`;
  const session = 'ui';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-tui-'));
  const pidFile = path.join(dir, 'meshbox.pid');
  let ingressPort = 0;
  let adminPort = 0;
  let toxiproxyPort = 0;
  let pid = 0;
  let children: number[] = [];

  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  const screen = (): string => tmux('capture-pane', '-p', '-t', session);
  async function waitFor(what: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = screen();
      if (what.test(last)) return last;
      await sleep(200);
    }
    throw new Error(`the screen never showed ${what}; it shows:\n${last}`);
  }
  async function keys(...k: string[]): Promise<void> {
    for (const key of k) {
      tmux('send-keys', '-t', session, key);
      await sleep(150);
    }
  }

  beforeAll(async () => {
    ingressPort = await freePort();
    adminPort = await freePort();
    // a port of its own: a taken default 8474 would be a warning replacing the try: hint
    toxiproxyPort = await freePort();
    const script = path.join(dir, 'run.sh');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `cd '${ROOT}'`,
        // Ink draws nothing until exit under CI; a person's terminal has no CI variable
        'unset CI CONTINUOUS_INTEGRATION',
        `export MESHBOX_STATE_DIR='${path.join(dir, 'state')}' TERM=xterm-256color`,
        `sh -c 'echo $$ > "${pidFile}"; exec "${process.execPath}" "${CLI}" up --runtime process --ingress-port ${ingressPort} --admin-port ${adminPort} --toxiproxy-port ${toxiproxyPort} --no-access-log'`,
        'echo "meshbox exited with $?"',
        'sleep 600',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '40', script);
  });

  afterAll(() => {
    for (const p of [pid, ...children]) if (p && alive(p)) process.kill(p, 'SIGKILL');
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens at once and shows the sample mesh coming up', async () => {
    // the screen is taken at once; the UI follows as soon as Ink and React are loaded
    await waitFor(/meshbox/, 15_000);
    await waitFor(/1 Services\s+2 Graph\s+3 Traffic\s+4 Rules\s+5 Logs\s+6 Faults/, 15_000);
    pid = Number(readFileSync(pidFile, 'utf8').trim());
    const s = await waitFor(/● ready 6\/6/, 60_000);
    expect(s).toMatch(/meshbox sample-[0-9a-f]{6}\s+● ready 6\/6\s+faults 0\s+load off\s+runtime process\s+seed \d+/);
    expect(s).toMatch(/rules v\d+ ✓ loaded \d\d:\d\d:\d\d/);
    expect(s).toContain(`ingress http://127.0.0.1:${ingressPort}  admin http://127.0.0.1:${adminPort}`);
    for (const id of ['caller-service-v1-1', 'callme-service-v1-1', 'callme-service-v2-1', 'callme-service-v2-2', 'greeter-service-v1-1', 'greeter-service-v2-1']) expect(s).toMatch(new RegExp(`${id}\\s+running ✓`));
    expect(s).toContain(`try: curl -H 'Host: caller.example.com' http://127.0.0.1:${ingressPort}/caller/ping`);
    children = descendants(pid);
    expect(children.length).toBeGreaterThanOrEqual(6);
  }, 90_000);

  it('the load key sends traffic through the mesh: rates, the 80/20 split, the tap', async () => {
    await keys('l');
    await waitFor(/Load rate 100▏req\/s path \/caller\/ping/);
    await keys('Enter');
    const s = await waitFor(/caller-service-v1\s+─▶ callme-service .* v1 (1\d|2\d)% \/ v2 (7\d|8\d)%/, 30_000);
    expect(s).toMatch(/load [\d.]+\/100 req\/s/);
    expect(s).toMatch(/caller-service\s+1\/1 ready\s+\d+\s+100%/);
    await keys('3');
    const tap = await waitFor(/istio-ingressgateway -> caller-service-v1-1\s+GET\s+\/caller\/ping\s+200/);
    expect(tap).toMatch(/caller-service-v1-1 -> callme-service-v[12]-\d\s+GET\s+\/callme\/ping\s+200/);
  }, 60_000);

  it('an abort injected from the keyboard shows in the success rates and the tap, and is cleared', async () => {
    await keys('1', 'g', 'Down', 'Down', 'Down', 'Down', 'Down', 'Down', 'a');
    await waitFor(/Abort on ◂ callme-service\/v2 ▸ of 50▏%/);
    await keys('Enter');
    await waitFor(/✓ fault callme-service-v2-abort-\d+ added/);
    // v2's sidecars answer half their requests with 503 FI; the caller's retries hide most of it
    const s = await waitFor(/callme-service-v2-1\s+running ✓ \d+\s+\d+\s+[4-7]\d\.\d%/, 20_000);
    expect(s).toMatch(/faults 1/);
    expect(s).toMatch(/v2 .*fault abort 503 50%/);
    await keys('3');
    await waitFor(/callme-service-v2-\d\s+GET\s+\/callme\/ping\s+\d{3}\s+\S+\s+(URX,)?FI\s+[2-4]/);
    await keys('c');
    await waitFor(/✓ 1 runtime fault cleared/);
    await waitFor(/faults 0/);
  }, 60_000);

  it('the detail of a request to v1 says why it went there', async () => {
    await keys('3', '/');
    // typed in one go, as a paste: the UI splits it into keys
    tmux('send-keys', '-t', session, '-l', 'callme-service-v1');
    await waitFor(/\/callme-service-v1▏/, 10_000);
    await keys('Enter', 'Enter');
    const d = await waitFor(/REQUEST DETAIL/, 20_000);
    expect(d).toMatch(/caller-service-v1-1 -> callme-service-v1-1/);
    expect(d).toMatch(/VirtualService default\/callme-service-route http\[0\] \(sample-services\/rules\/callme-service\.yaml:\d+:\d+\)/);
    expect(d).toContain('weighted pick: callme-service subset v1 (weight 20 of 100)');
    await keys('Escape');
  }, 30_000);

  it('q stops everything and gives the terminal back: no process, no port left', async () => {
    await keys('q');
    const s = await waitFor(/meshbox exited with \d+/, 45_000);
    expect(s).toMatch(/meshbox exited with 0/);
    expect(s).toMatch(/meshbox: sandbox sample-[0-9a-f]{6} stopped/);
    // the alternate screen is gone: the UI's frame is not left on the terminal
    expect(s).not.toContain('1 Services');
    expect(alive(pid)).toBe(false);
    for (const c of children) expect(alive(c), `process ${c} is still running`).toBe(false);
    expect(await isPortOpen(ingressPort)).toBe(false);
    expect(await isPortOpen(adminPort)).toBe(false);
  }, 60_000);
});

describe.skipIf(!hasTmux())('meshbox up in a terminal, stopped while it starts (SIGTERM)', () => {
  const socket = `meshbox-tui-term-${process.pid}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-tui-'));
  const pidFile = path.join(dir, 'meshbox.pid');
  const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  let pid = 0;
  let seen: number[] = [];

  afterAll(() => {
    for (const p of [pid, ...seen]) if (p && alive(p)) process.kill(p, 'SIGKILL');
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops everything it had started, gives the terminal back and exits 0', async () => {
    const [ingressPort, adminPort, toxiproxyPort] = [await freePort(), await freePort(), await freePort()];
    const script = path.join(dir, 'run.sh');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `cd '${ROOT}'`,
        'unset CI CONTINUOUS_INTEGRATION',
        `export MESHBOX_STATE_DIR='${path.join(dir, 'state')}'`,
        `sh -c 'echo $$ > "${pidFile}"; exec "${process.execPath}" "${CLI}" up --runtime process --ingress-port ${ingressPort} --admin-port ${adminPort} --toxiproxy-port ${toxiproxyPort} --no-access-log'`,
        'echo "meshbox exited with $?"',
        'sleep 600',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    tmux('new-session', '-d', '-s', 'ui', '-x', '100', '-y', '30', script);
    const deadline = Date.now() + 20_000;
    // as soon as the first workload is launched, while the others may still be starting
    while (Date.now() < deadline) {
      if (!pid) {
        try {
          pid = Number(readFileSync(pidFile, 'utf8').trim()) || 0;
        } catch {
          // not yet
        }
      }
      if (pid) seen = [...new Set([...seen, ...descendants(pid)])];
      if (seen.length > 0) break;
      await sleep(50);
    }
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGTERM');
    const until = Date.now() + 30_000;
    let screen = '';
    while (Date.now() < until) {
      screen = tmux('capture-pane', '-p', '-t', 'ui');
      if (/meshbox exited with \d+/.test(screen)) break;
      await sleep(200);
    }
    expect(screen).toMatch(/meshbox exited with 0/);
    expect(screen).not.toContain('1 Services');
    expect(alive(pid)).toBe(false);
    for (const p of seen) expect(alive(p), `process ${p} is still running`).toBe(false);
    expect(await isPortOpen(ingressPort)).toBe(false);
    expect(await isPortOpen(adminPort)).toBe(false);
  }, 60_000);
});

