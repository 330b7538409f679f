/**
 * The admin token: its file (0600 in a 0700 folder, removed at stop), how a client finds the one
 * for an admin address (loopback names alike, never for another host), the Bearer header, the
 * comparison; and which Host values are loopback.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN_ENV, bearerToken, findAdminToken, generateAdminToken, tokenMatches } from '../../../sandbox/admin/admin-token.js';
import { isLoopbackHost } from '../../../sandbox/admin/loopback.js';
import { reapLeftovers, SandboxState, tokenFileOf } from '../../../sandbox/runtime/sandbox-state.js';

const saved = { state: process.env.MESHBOX_STATE_DIR, token: process.env[ADMIN_TOKEN_ENV] };
let stateDir = '';

beforeEach(() => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-token-'));
  process.env.MESHBOX_STATE_DIR = stateDir;
  delete process.env[ADMIN_TOKEN_ENV];
});

afterEach(() => {
  if (saved.state === undefined) delete process.env.MESHBOX_STATE_DIR;
  else process.env.MESHBOX_STATE_DIR = saved.state;
  if (saved.token === undefined) delete process.env[ADMIN_TOKEN_ENV];
  else process.env[ADMIN_TOKEN_ENV] = saved.token;
});

describe('the token file', () => {
  it('is written 0600 (whatever the umask) in a 0700 folder, and removed with the record', () => {
    const old = process.umask(0);
    try {
      const state = new SandboxState('sample-aa11bb', '/x/meshbox.yaml');
      state.writeToken('secret');
      expect(state.tokenFile).toBe(path.join(stateDir, 'sandboxes', 'sample-aa11bb.token'));
      expect(statSync(state.tokenFile).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(state.tokenFile)).mode & 0o777).toBe(0o700);
      expect(readFileSync(state.tokenFile, 'utf8')).toBe('secret\n');
      state.writeToken('another'); // a second write replaces it
      expect(readFileSync(state.tokenFile, 'utf8')).toBe('another\n');
      state.remove();
      expect(existsSync(state.tokenFile)).toBe(false);
    } finally {
      process.umask(old);
    }
  });

  it('makes an existing records folder that others can read 0700', () => {
    mkdirSync(path.join(stateDir, 'sandboxes'), { recursive: true });
    chmodSync(path.join(stateDir, 'sandboxes'), 0o755);
    new SandboxState('sample-bb22cc', '/x/meshbox.yaml').writeToken('t');
    expect(statSync(path.join(stateDir, 'sandboxes')).mode & 0o777).toBe(0o700);
  });

  it('of a dead sandbox goes when its leftovers are reaped, and so does a token left without a record', () => {
    const dir = path.join(stateDir, 'sandboxes');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // a record whose owner is gone (pid 2^22+1 is above Linux's pid_max default)
    writeFileSync(path.join(dir, 'dead-1.json'), JSON.stringify({ id: 'dead-1', ownerPid: 4194305, startedAt: '', config: '', processes: {} }));
    writeFileSync(tokenFileOf('dead-1'), 't\n', { mode: 0o600 });
    writeFileSync(tokenFileOf('orphan-2'), 't\n', { mode: 0o600 });
    const live = new SandboxState('live-3', '/x');
    live.writeToken('t');
    reapLeftovers();
    expect(existsSync(tokenFileOf('dead-1'))).toBe(false);
    expect(existsSync(tokenFileOf('orphan-2'))).toBe(false);
    expect(existsSync(tokenFileOf('live-3'))).toBe(true);
  });
});

describe('finding the token for an admin address', () => {
  it("reads the running sandbox's token file, whichever loopback name the address uses", () => {
    const state = new SandboxState('sample-aa11bb', '/x');
    state.set({ adminUrl: 'http://127.0.0.1:4321' });
    state.writeToken('tok-1');
    for (const url of ['http://127.0.0.1:4321', 'http://127.0.0.1:4321/', 'http://localhost:4321', 'http://[::1]:4321/faults']) {
      expect(findAdminToken(url), url).toEqual({ token: 'tok-1', from: state.tokenFile });
    }
    expect(findAdminToken('http://127.0.0.1:4322')).toBeUndefined();
  });

  it('never gives a token for an address that is not loopback; MESHBOX_ADMIN_TOKEN overrides the file', () => {
    const state = new SandboxState('sample-aa11bb', '/x');
    state.set({ adminUrl: 'http://127.0.0.1:4321' });
    state.writeToken('tok-1');
    expect(findAdminToken('http://evil.example:4321')).toBeUndefined();
    expect(findAdminToken('http://192.168.1.5:4321')).toBeUndefined();
    expect(findAdminToken('not a url')).toBeUndefined();
    process.env[ADMIN_TOKEN_ENV] = 'from-env';
    expect(findAdminToken('http://127.0.0.1:4321')).toEqual({ token: 'from-env', from: ADMIN_TOKEN_ENV });
    expect(findAdminToken('http://evil.example:4321')).toBeUndefined();
  });
});

describe('tokens and headers', () => {
  it('makes 256-bit URL-safe tokens, a new one each time', () => {
    const a = generateAdminToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateAdminToken()).not.toBe(a);
  });

  it('reads `Authorization: Bearer <token>` only', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken('abc')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('matches the exact token only (compared in constant time over hashes of both)', () => {
    expect(tokenMatches('abc', 'abc')).toBe(true);
    for (const other of ['ab', 'abcd', 'ABC', '', 'abd']) expect(tokenMatches('abc', other), other).toBe(false);
  });
});

describe('loopback Host values', () => {
  it('are localhost, *.localhost, 127.0.0.0/8 and ::1, with or without a port; nothing else', () => {
    for (const host of ['localhost', 'localhost:15000', 'x.localhost', 'a.b.localhost:1', '127.0.0.1', '127.255.0.9:80', '[::1]', '[::1]:15000', '[::ffff:127.0.0.1]', '127.1']) {
      expect(isLoopbackHost(host), host).toBe(true);
    }
    for (const host of [undefined, '', 'evil.example', 'localhost.evil.example', 'localhost.', 'evil@127.0.0.1', '127.0.0.1/x', '127.0.0.1:80:80', '10.0.0.1', '0.0.0.0', '[::]', '[::2]', '128.0.0.1', 'localhost:99999x']) {
      expect(isLoopbackHost(host), String(host)).toBe(false);
    }
  });
});
