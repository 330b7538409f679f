/**
 * greeter-service, the gRPC sample (dist/sample-services/greeter), and caller-service's
 * `GET /caller/greet`, which calls it over gRPC: run as child processes the way meshbox runs
 * them, talked to with @grpc/grpc-js and over HTTP, without a mesh in between.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/free-port.js';
import { createGreeterClient, greeterAddress } from '../../sample-services/caller/greeter-client.js';
import { decodeString1, encodeString1 } from '../../sample-services/greeter/helloworld.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const children = new Set<ChildProcess>();

afterEach(async () => {
  await Promise.all(
    [...children].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
  children.clear();
});

async function start(name: 'greeter' | 'caller', env: Record<string, string>): Promise<{ port: number; out: () => string; exited: Promise<number | null> }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/sample-services', name, 'main.js')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 10_000;
  while (!out.includes(' listening on ')) {
    if (child.exitCode !== null) return { port, out: () => out, exited };
    if (Date.now() > deadline) throw new Error(`${name} did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { port, out: () => out, exited };
}

function get(port: number, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('the greeter folder', () => {
  it('is self-contained: Node built-ins, its own files and @grpc/grpc-js linked into the compiled folder', () => {
    const dir = path.join(ROOT, 'sample-services/greeter');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      for (const [, specifier] of readFileSync(path.join(dir, file), 'utf8').matchAll(/^import[^'"]*['"]([^'"]+)['"]/gm)) {
        expect(specifier, file).toMatch(/^(node:|\.\/[a-z-]+\.js$|@grpc\/grpc-js$)/);
      }
    }
    for (const pkg of ['@grpc/grpc-js', '@js-sdsl/ordered-map']) {
      expect(existsSync(path.join(ROOT, 'dist/sample-services/greeter/node_modules', pkg, 'package.json')), pkg).toBe(true);
    }
    // caller and greeter speak the same wire format
    expect(readFileSync(path.join(ROOT, 'sample-services/caller/helloworld.ts'), 'utf8')).toBe(readFileSync(path.join(dir, 'helloworld.ts'), 'utf8'));
  });
});

describe('helloworld wire format', () => {
  it('round-trips field 1 and skips unknown fields', () => {
    expect(encodeString1('hé').toString('hex')).toBe('0a0368c3a9');
    expect(encodeString1('')).toHaveLength(0);
    expect(decodeString1(encodeString1('x'.repeat(300)))).toBe('x'.repeat(300));
    // field 2 varint 150, then field 1
    expect(decodeString1(Buffer.concat([Buffer.from([0x10, 0x96, 0x01]), encodeString1('a')]))).toBe('a');
  });

  it('rejects truncated messages', () => {
    expect(() => decodeString1(Buffer.from([0x0a, 0x05, 0x61]))).toThrow(/truncated/);
    expect(() => decodeString1(Buffer.from([0x0a]))).toThrow(/truncated varint/);
  });
});

describe('greeter-service', () => {
  it('answers SayHello with its version, and the status a name asks for', async () => {
    const g = await start('greeter', { VERSION: 'v2' });
    const client = createGreeterClient(`127.0.0.1:${g.port}`);
    try {
      expect((await client.sayHello('meshbox', {}, 5_000)).message).toBe("Hello meshbox, I'm greeter-service v2");
      const err = (await client.sayHello('status:14', {}, 5_000).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(err.code).toBe(grpc.status.UNAVAILABLE);
      expect(err.details).toBe('greeter-service v2: status 14');
      const late = (await client.sayHello('delay:2000', {}, 100).catch((e: unknown) => e)) as grpc.ServiceError;
      expect(late.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    } finally {
      client.close();
    }
    expect(g.out()).toMatch(/SayHello "meshbox" OK \d+ms/);
  });

  it('does not start without VERSION, and says why', async () => {
    const g = await start('greeter', {});
    expect(await g.exited).toBe(1);
    expect(g.out()).toContain('environment variable VERSION is required');
  });
});

describe('caller-service GET /caller/greet', () => {
  it('calls greeter over gRPC and maps a failed call onto an HTTP status', async () => {
    const g = await start('greeter', { VERSION: 'v1' });
    const c = await start('caller', { VERSION: 'v1', GREETER_ADDR: `127.0.0.1:${g.port}` });
    expect(await get(c.port, '/caller/greet?name=ada')).toEqual({ status: 200, body: "I'm caller-service v1. Calling... Hello ada, I'm greeter-service v1" });
    expect(await get(c.port, '/caller/greet?name=status:14')).toEqual({ status: 503, body: "I'm caller-service v1. Calling... error: grpc-status 14: greeter-service v1: status 14" });
    expect((await get(c.port, '/caller/greet?name=status:7')).status).toBe(403);
  });

  it('finds greeter by the sidecar address meshbox gives it, else by name', () => {
    expect(greeterAddress({ GREETER_SERVICE_GRPC_ADDR: '127.0.0.1:41000' })).toBe('127.0.0.1:41000');
    expect(greeterAddress({ GREETER_ADDR: '127.0.0.1:1', GREETER_SERVICE_GRPC_ADDR: '127.0.0.1:2' })).toBe('127.0.0.1:1');
    expect(greeterAddress({})).toBe('greeter-service:9090');
  });
});
