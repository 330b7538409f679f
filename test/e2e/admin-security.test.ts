/**
 * The admin API of a sandbox started by `meshbox up`, attacked as issue #10 describes: a web page
 * (DNS rebinding, CSRF), a text/plain POST with no User-Agent, an app calling it through its
 * sidecar's passthrough, a 100 MB body; and the meshbox CLI, which reads the admin token from the
 * state folder, working as before.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, interrupt, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

interface Status {
  sandbox: string;
  instances: Array<{ id: string; state: string; pid: number; sidecar: { outbound: number } }>;
}

interface Reply {
  status: number;
  body: string;
}

function send(port: number, method: string, path: string, headers: Record<string, string | number>, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** resident memory of a process, MB */
function rssMb(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

describe('the admin API of a running sandbox', { timeout: 90_000 }, () => {
  let run: CliRun;
  let admin = '';
  let adminPort = 0;
  let stateDir = '';
  let env: Record<string, string> = {};
  const status = async (): Promise<Status> => JSON.parse((await httpGet(`${admin}/status`)).body) as Status;
  const faults = async (): Promise<unknown[]> => (JSON.parse((await httpGet(`${admin}/faults`)).body) as { faults: unknown[] }).faults;
  const tokenFile = async (): Promise<string> => path.join(stateDir, 'sandboxes', `${(await status()).sandbox}.token`);

  beforeAll(async () => {
    const [ip, ap] = [await freePort(), await freePort()];
    adminPort = ap;
    admin = `http://127.0.0.1:${ap}`;
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-state-'));
    env = { MESHBOX_STATE_DIR: stateDir };
    run = startCli(['up', '--headless', '--runtime', 'process', '--ingress-port', String(ip), '--admin-port', String(ap), '--seed', '10', '--no-logs', '--no-access-log'], env);
    await run.waitFor('meshbox is up', 45_000);
    await waitForHttp(`${admin}/ready`);
  }, 60_000);

  afterAll(async () => {
    if (run) await interrupt(run);
  });

  it('keeps a fresh token in the state folder, readable by this user only (0600 in a 0700 folder)', async () => {
    const file = await tokenFile();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    expect(readFileSync(file, 'utf8').trim()).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses a web page: DNS rebinding (foreign Host) and CSRF (foreign Origin), read-only routes included', async () => {
    const foreign = { host: `evil.example:${adminPort}`, origin: 'http://evil.example' };
    const dump = await send(adminPort, 'GET', '/config_dump', foreign);
    expect(dump.status).toBe(403);
    expect(dump.body).toContain(`Host evil.example:${adminPort} is not a loopback address: the admin API answers only on loopback`);
    const add = await send(adminPort, 'POST', '/faults', { ...foreign, 'content-type': 'application/json' }, JSON.stringify({ target: { service: 'callme-service' }, http: { abort: { httpStatus: 503 } } }));
    expect(add.status).toBe(403);
    const origin = await send(adminPort, 'GET', '/config_dump', { origin: 'http://evil.example' });
    expect(origin.status).toBe(403);
    expect(await faults()).toEqual([]);
  });

  it('refuses a text/plain POST with no User-Agent: the workload is not killed', async () => {
    const before = (await status()).instances.find((i) => i.id === 'callme-service-v1-1')!;
    const kill = await send(adminPort, 'POST', '/workloads/callme-service-v1-1/kill', { 'content-type': 'text/plain' }, '{}');
    expect(kill.status).toBe(401);
    const body = JSON.parse(kill.body) as { code: string; hint: string };
    expect(body.code).toBe('MESH_ERR_ADMIN_TOKEN_MISSING');
    expect(body.hint).toContain(await tokenFile());
    expect(body.hint).toContain('Authorization: Bearer <token>');
    const after = (await status()).instances.find((i) => i.id === 'callme-service-v1-1')!;
    expect(after).toMatchObject({ state: 'running', pid: before.pid });
  });

  it("refuses a state-changing request that an app sends through its sidecar's outbound passthrough", async () => {
    const caller = (await status()).instances.find((i) => i.id === 'caller-service-v1-1')!;
    const victim = (await status()).instances.find((i) => i.id === 'callme-service-v2-1')!;
    // what `curl -x $HTTP_PROXY http://127.0.0.1:<admin>/...` inside the caller sends
    const add = await send(caller.sidecar.outbound, 'POST', `${admin}/faults`, { host: `127.0.0.1:${adminPort}`, 'content-type': 'application/json' }, JSON.stringify({ target: { service: 'callme-service' }, http: { abort: { httpStatus: 503 } } }));
    expect(add.status, add.body).toBeGreaterThanOrEqual(400);
    const kill = await send(caller.sidecar.outbound, 'POST', `http://localhost:${adminPort}/workloads/callme-service-v2-1/kill`, { host: `localhost:${adminPort}`, 'content-type': 'application/json' }, '{}');
    expect(kill.status, kill.body).toBeGreaterThanOrEqual(400);
    expect(await faults()).toEqual([]);
    expect((await status()).instances.find((i) => i.id === 'callme-service-v2-1')).toMatchObject({ state: 'running', pid: victim.pid });
  });

  it('refuses a 100 MB body with 413 without holding it in memory', async () => {
    const file = await tokenFile();
    const token = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    const pid = run.proc.pid!;
    const before = rssMb(pid);
    const size = 100 * 1024 * 1024;
    const reply = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${admin}/faults`, { method: 'POST', agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': size } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (e) => reject(e));
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const write = (): void => {
        while (sent < size && !req.destroyed) {
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', write);
            return;
          }
        }
        if (!req.destroyed) req.end();
      };
      write();
    });
    const grown = rssMb(pid) - before;
    // before the limit, meshbox held the whole body (and its string): +270 MB
    expect(grown).toBeLessThan(40);
    expect(reply).toBe(413);
    expect(await faults()).toEqual([]);
  });

  it('the CLI reads the token: fault and workload commands work where the same request without it is refused', async () => {
    const bare = await send(adminPort, 'DELETE', '/faults', {});
    expect(bare.status).toBe(401);
    const add = await runCli(['fault', 'add', 'callme-service', '--subset', 'v2', '--abort', '503', '--name', 'cli-token', '--admin', admin], env);
    expect(add.code, add.output).toBe(0);
    expect(add.output).toContain('added fault cli-token');
    const ls = await runCli(['fault', 'ls', '--admin', admin], env);
    expect(ls.output).toContain('cli-token');
    // without --admin: the only running sandbox of this state folder
    const rm = await runCli(['fault', 'rm', 'cli-token'], env);
    expect(rm.code, rm.output).toBe(0);
    expect(await faults()).toEqual([]);
    const drain = await runCli(['workload', 'drain', 'callme-service-v2-2', '--admin', `http://localhost:${adminPort}`], env);
    expect(drain.code, drain.output).toBe(0);
    const undrain = await runCli(['workload', 'undrain', 'callme-service-v2-2', '--admin', admin], env);
    expect(undrain.code, undrain.output).toBe(0);
    const st = await runCli(['status', '--admin', admin], env);
    expect(st.code, st.output).toBe(0);
    expect(st.output).toContain('callme-service-v2-2');
  });

  it('a CLI with another state folder is told where the token is; MESHBOX_ADMIN_TOKEN lets it through', async () => {
    const elsewhere = { MESHBOX_STATE_DIR: mkdtempSync(path.join(os.tmpdir(), 'meshbox-other-state-')) };
    const refused = await runCli(['fault', 'add', 'callme-service', '--abort', '503', '--name', 'elsewhere', '--admin', admin], elsewhere);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain('POST /faults changes the sandbox and needs its admin token');
    expect(refused.output).toContain(`meshbox found no admin token for 127.0.0.1:${adminPort}`);
    expect(refused.output).toContain('MESHBOX_ADMIN_TOKEN');
    expect(await faults()).toEqual([]);
    const token = readFileSync(await tokenFile(), 'utf8').trim();
    const wrong = await runCli(['fault', 'add', 'callme-service', '--abort', '503', '--admin', admin], { ...elsewhere, MESHBOX_ADMIN_TOKEN: 'not-it' });
    expect(wrong.code).not.toBe(0);
    expect(wrong.output).toContain("the admin token sent is not this sandbox's");
    const ok = await runCli(['fault', 'add', 'callme-service', '--abort', '503', '--name', 'elsewhere', '--admin', admin], { ...elsewhere, MESHBOX_ADMIN_TOKEN: token });
    expect(ok.code, ok.output).toBe(0);
    expect((await runCli(['fault', 'rm', '--all', '--admin', admin], env)).code).toBe(0);
  });

  it('removes the token file when the sandbox stops', async () => {
    const file = await tokenFile();
    expect(existsSync(file)).toBe(true);
    expect(await interrupt(run)).toBe(0);
    expect(readdirSync(path.dirname(file))).toEqual([]);
  });
});
