import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { probeExec, probeFor, probeTcp } from '../../../sandbox/control/health-checker.js';
import { DEFAULT_HEALTH } from '../../../sandbox/config/mesh-types.js';

const server = net.createServer((s) => s.end());
const listening = new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
afterAll(() => new Promise<void>((r) => server.close(() => r())));

/** a loopback port nothing listens on */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('health probes from Kubernetes tcpSocket and exec probes', () => {
  it('tcp: healthy when the port accepts a connection, unhealthy when refused', async () => {
    expect(await probeTcp(await listening, 1000)).toEqual({ ok: true });
    expect(await probeTcp(await closedPort(), 1000)).toEqual({ ok: false, reason: 'ECONNREFUSED' });
  });

  it('exec: exit 0 is healthy, another exit code is not; PORT is the instance port', async () => {
    const port = await listening;
    const check = `if (process.env.PORT !== '${port}') process.exit(3)`;
    expect(await probeExec([process.execPath, '-e', check], process.cwd(), port, 5000)).toEqual({ ok: true });
    expect(await probeExec([process.execPath, '-e', 'process.exit(2)'], process.cwd(), port, 5000)).toEqual({ ok: false, reason: 'exit code 2' });
  });

  it('probeFor picks the probe of the spec (http stays the default)', async () => {
    const port = await closedPort();
    expect(await probeFor({ path: '/', ...DEFAULT_HEALTH, kind: 'tcp' }, port, process.cwd())).toEqual({ ok: false, reason: 'ECONNREFUSED' });
    expect(await probeFor({ path: '/', ...DEFAULT_HEALTH }, port, process.cwd())).toEqual({ ok: false, reason: 'ECONNREFUSED' });
    expect(await probeFor({ path: '/', ...DEFAULT_HEALTH, kind: 'exec', command: [process.execPath, '-e', ''] }, port, process.cwd())).toEqual({ ok: true });
  });
});
