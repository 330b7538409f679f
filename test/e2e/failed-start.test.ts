/**
 * `meshbox up` that cannot start, run as a user runs it: it says why with one error code, stops
 * whatever it started and exits non-zero (it never keeps running, and leaves no process behind);
 * `meshbox validate --runtime` says beforehand which services a runtime cannot run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listSandboxes } from '../../sandbox/runtime/sandbox-state.js';
import { startCli } from '../helpers/cli.js';
import { meshFixture, type MeshFixture } from '../helpers/lifecycle-fixture.js';

let fixture: MeshFixture | undefined;

afterEach(() => {
  fixture?.cleanup();
  fixture = undefined;
});

/** runs the CLI; a run still going after `limitMs` is killed and reported as `hung` */
async function meshbox(args: string[], f: MeshFixture, limitMs = 30_000, env: Record<string, string> = {}): Promise<{ code: number | null; output: string; hung: boolean }> {
  const run = startCli(args, { MESHBOX_STATE_DIR: f.stateDir, ...env });
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    run.proc.kill('SIGKILL');
  }, limitMs);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, output: run.output(), hung };
}

const MIXED = `name: mixed
services:
  good-service:
    port: 8080
    command: [node, app.cjs]
    health: /health
    env: { MODE: ok, PID_DIR: '{{PID_DIR}}' }
    versions:
      v1: { replicas: 2 }
  legacy-service:
    port: 8080
    build: ./legacy
`;

function mixedMesh(): MeshFixture {
  fixture = meshFixture(MIXED);
  mkdirSync(path.join(fixture.dir, 'legacy'));
  writeFileSync(path.join(fixture.dir, 'legacy', 'Dockerfile'), 'FROM scratch\n');
  return fixture;
}

const UP = (f: MeshFixture, ...more: string[]): string[] => ['up', '--headless', '--config', f.file, '--ingress-port', '0', '--admin-port', '0', '--no-access-log', '--no-watch', ...more];

describe('meshbox up that cannot start', () => {
  it('a service the process runtime cannot run: MESH_ERR_RUNTIME_UNAVAILABLE, exit 3, nothing left running', async () => {
    const f = mixedMesh();
    const r = await meshbox(UP(f, '--runtime', 'process'), f);
    expect(r.hung, r.output).toBe(false);
    expect(r.code, r.output).toBe(3);
    expect(r.output).toContain('MESH_ERR_RUNTIME_UNAVAILABLE');
    expect(r.output).toContain('legacy-service v1 has only `build:` and no `command`');
    expect(r.output).toContain('--runtime docker');
    expect(f.alive()).toEqual([]);
    const prev = process.env.MESHBOX_STATE_DIR;
    process.env.MESHBOX_STATE_DIR = f.stateDir;
    try {
      expect(listSandboxes()).toEqual([]);
    } finally {
      if (prev === undefined) delete process.env.MESHBOX_STATE_DIR;
      else process.env.MESHBOX_STATE_DIR = prev;
    }
  }, 40_000);

  it('a program that does not exist: MESH_ERR_WORKLOAD_START, exit 4, the instances started beside it are stopped', async () => {
    const f = (fixture = meshFixture(MIXED.replace(/  legacy-service:\n    port: 8080\n    build: \.\/legacy\n/, '  broken-service:\n    port: 8080\n    command: [./no-such-program]\n    health: /health\n')));
    const r = await meshbox(UP(f, '--runtime', 'process'), f);
    expect(r.hung, r.output).toBe(false);
    expect(r.code, r.output).toBe(4);
    expect(r.output).toContain('MESH_ERR_WORKLOAD_START: workload broken-service-v1-1 could not start: ./no-such-program: spawn ./no-such-program ENOENT');
    expect(f.alive()).toEqual([]);
  }, 40_000);

  it('a rules folder that does not exist: MESH_ERR_RULES_NOT_FOUND, exit 1', async () => {
    const f = (fixture = meshFixture(MIXED.split('  legacy-service:')[0]!));
    const r = await meshbox(UP(f, '--runtime', 'process', '--rules', path.join(f.dir, 'no-rules-here')), f);
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain(`MESH_ERR_RULES_NOT_FOUND: rules folder ${path.join(f.dir, 'no-rules-here')} does not exist`);
    expect(f.alive()).toEqual([]);
  }, 40_000);

  it('an ingress address this machine does not have: MESH_ERR_LISTEN, exit 2', async () => {
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to this machine, so bind fails with EADDRNOTAVAIL
    const f = (fixture = meshFixture(MIXED.split('  legacy-service:')[0]!.replace('name: mixed', 'name: mixed\ningress: { host: 192.0.2.1, port: 18080 }')));
    const r = await meshbox(UP(f, '--runtime', 'process').filter((a, i, all) => a !== '--ingress-port' && all[i - 1] !== '--ingress-port'), f);
    expect(r.code, r.output).toBe(2);
    expect(r.output).toContain('MESH_ERR_LISTEN: the ingress gateway cannot listen on 192.0.2.1:18080');
    expect(r.output).toContain('EADDRNOTAVAIL');
    expect(f.alive()).toEqual([]);
  }, 40_000);
});

describe('meshbox validate --runtime', () => {
  it('names the services the process runtime cannot run, and exits 1', async () => {
    const f = mixedMesh();
    const r = await meshbox(['validate', '--config', f.file, '--runtime', 'process'], f);
    expect(r.code, r.output).toBe(1);
    expect(r.output).toMatch(/meshbox\.yaml:\d+:\d+: error MB3006: the process runtime cannot run it: legacy-service v1 has only `build:` and no `command`/);
    expect(r.output).not.toContain('good-service v1');
  });

  it('by default checks the runtime up would pick: processes when no Docker daemon answers', async () => {
    const f = mixedMesh();
    const noDaemon = { DOCKER_HOST: `unix://${path.join(f.dir, 'no-docker.sock')}` };
    const r = await meshbox(['validate', '--config', f.file], f, 30_000, noDaemon);
    expect(r.code, r.output).toBe(1);
    expect(r.output).toContain('error MB3006: the process runtime cannot run it: legacy-service v1 has only `build:` and no `command`');
    expect(r.output).toContain('(--runtime auto picks process: no Docker daemon answers at unix://');
    // and `up` with the same choice fails before starting anything, saying how the runtime was picked
    const up = await meshbox(UP(f), f, 30_000, noDaemon);
    expect(up.code, up.output).toBe(3);
    expect(up.output).toContain('MESH_ERR_RUNTIME_UNAVAILABLE: the process runtime is not available: legacy-service v1 has only `build:` and no `command`, which the process runtime needs (--runtime auto picked it: no Docker daemon answers');
    expect(up.output).toContain('hint: start the Docker daemon so --runtime auto picks it');
    expect(f.alive()).toEqual([]);
  }, 60_000);

  it('the same mesh is fine for the docker runtime', async () => {
    const f = mixedMesh();
    const r = await meshbox(['validate', '--config', f.file, '--runtime', 'docker'], f);
    expect(r.output).not.toContain('MB3006');
    expect(r.code, r.output).toBe(0);
  });

  it('the docker runtime cannot run a program outside the service folder in a generated image', async () => {
    const f = (fixture = meshFixture(MIXED.split('  legacy-service:')[0]!.replace('command: [node, app.cjs]', 'command: [python3, app.py]')));
    const r = await meshbox(['validate', '--config', f.file, '--runtime', 'docker', '--json'], f);
    expect(r.code, r.output).toBe(1);
    const json = JSON.parse(r.output) as { findings: Array<{ code: string; message: string }> };
    expect(json.findings.filter((x) => x.code === 'MB3006').map((x) => x.message)).toEqual(['the docker runtime cannot run it: good-service v1: the Docker runtime cannot run `python3` in a generated image']);
  });
});

describe('Ctrl-C while meshbox up is starting', () => {
  for (const [when, marker] of [
    ['before anything started', / starting \/.*meshbox\.yaml \(seed/],
    ['while instances are starting', /good-service-v1-1 starting on port/],
  ] as const) {
    it(`${when}: exits, and leaves no process and no sandbox record behind`, async () => {
      const f = (fixture = meshFixture(MIXED.split('  legacy-service:')[0]!.replace('replicas: 2', 'replicas: 3')));
      const run = startCli(UP(f, '--runtime', 'process'), { MESHBOX_STATE_DIR: f.stateDir });
      await run.waitFor(marker, 30_000);
      run.proc.kill('SIGINT');
      let hung = false;
      const timer = setTimeout(() => {
        hung = true;
        run.proc.kill('SIGKILL');
      }, 20_000);
      const code = await run.exited;
      clearTimeout(timer);
      expect(hung, run.output()).toBe(false);
      expect(code, run.output()).toBe(0);
      // whatever was launched is gone (give a late start the time to show itself)
      await new Promise((r) => setTimeout(r, 1_000));
      expect(f.alive(), run.output()).toEqual([]);
      const prev = process.env.MESHBOX_STATE_DIR;
      process.env.MESHBOX_STATE_DIR = f.stateDir;
      try {
        expect(listSandboxes()).toEqual([]);
      } finally {
        if (prev === undefined) delete process.env.MESHBOX_STATE_DIR;
        else process.env.MESHBOX_STATE_DIR = prev;
      }
    }, 60_000);
  }
});
