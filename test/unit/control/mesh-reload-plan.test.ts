/**
 * What a meshbox.yaml save changes (planMeshChange) and how reloads are serialised (ReloadQueue).
 */
import { describe, expect, it } from 'vitest';
import { parseMeshText } from '../../../sandbox/config/mesh-file.js';
import type { MeshDefinition } from '../../../sandbox/config/mesh-types.js';
import { planMeshChange } from '../../../sandbox/control/mesh-reloader.js';
import { ReloadQueue } from '../../../sandbox/control/reload-queue.js';

const FILE = '/project/meshbox.yaml';

function mesh(text: string): MeshDefinition {
  const r = parseMeshText(text, FILE);
  if (!r.mesh) throw new Error(r.findings.map((f) => f.message).join('\n'));
  return r.mesh;
}

const BASE = `
services:
  caller:
    port: 8080
    command: node caller.js
    env: { A: "1", B: "2" }
  callme:
    port: 8080
    command: node callme.js
    versions:
      v1: { replicas: 1, env: { VERSION: v1 } }
      v2: { replicas: 2, env: { VERSION: v2 } }
`;

describe('planMeshChange', () => {
  it('nothing changed: an empty plan (key order in YAML is not a change)', () => {
    const plan = planMeshChange(mesh(BASE), mesh(BASE.replace('env: { A: "1", B: "2" }', 'env: { B: "2", A: "1" }')));
    expect(plan.empty).toBe(true);
    expect(plan.workloads).toEqual([]);
  });

  it('replicas only: a scale of that workload, nothing else', () => {
    const plan = planMeshChange(mesh(BASE), mesh(BASE.replace('v2: { replicas: 2', 'v2: { replicas: 4')));
    expect(plan.changed).toEqual(['scaled Workload default/callme-v2 (2 -> 4)']);
    expect(plan.workloads.map((w) => [w.workload, w.change])).toEqual([['callme-v2', 'scaled']]);
  });

  it('env or command: a changed workload with the fields that differ; a service-level env changes every version', () => {
    const one = planMeshChange(mesh(BASE), mesh(BASE.replace('env: { VERSION: v2 }', 'env: { VERSION: v2, DEBUG: "1" }')));
    expect(one.workloads).toMatchObject([{ workload: 'callme-v2', change: 'changed', fields: ['env'] }]);
    const both = planMeshChange(mesh(BASE), mesh(BASE.replace('command: node callme.js', 'command: node callme.js --fast')));
    expect(both.workloads.map((w) => [w.workload, w.change, w.fields])).toEqual([
      ['callme-v1', 'changed', ['command']],
      ['callme-v2', 'changed', ['command']],
    ]);
    const scaledToo = planMeshChange(mesh(BASE), mesh(BASE.replace('v2: { replicas: 2, env: { VERSION: v2 } }', 'v2: { replicas: 3, env: { VERSION: v3 } }')));
    expect(scaledToo.changed).toEqual(['changed Workload default/callme-v2 (env; replicas 2 -> 3)']);
  });

  it('added and removed services and versions', () => {
    const added = planMeshChange(mesh(BASE), mesh(`${BASE}  echo:\n    port: 9090\n    command: node echo.js\n`));
    expect(added.changed).toEqual(['added Service default/echo', 'added Workload default/echo-v1 (1 replica)']);
    expect(added.workloads).toMatchObject([{ workload: 'echo-v1', change: 'added' }]);
    const removed = planMeshChange(mesh(BASE), mesh(BASE.replace('      v1: { replicas: 1, env: { VERSION: v1 } }\n', '')));
    expect(removed.changed).toEqual(['removed Workload default/callme-v1']);
    expect(removed.workloads).toMatchObject([{ workload: 'callme-v1', change: 'removed' }]);
  });

  it('a service port or watch change is a new snapshot, not a restart', () => {
    const port = planMeshChange(mesh(BASE), mesh(BASE.replace('  callme:\n    port: 8080', '  callme:\n    port: 9090')));
    expect(port.changed).toEqual(['changed Service default/callme (port 8080 -> 9090)']);
    expect(port.workloads).toEqual([]);
    const watch = planMeshChange(mesh(BASE), mesh(BASE.replace('    command: node callme.js\n', '    command: node callme.js\n    watch: { paths: [callme] }\n')));
    expect(watch.changed).toEqual(['changed Service default/callme (watch)']);
    expect(watch.workloads).toEqual([]);
  });

  it('the ingress address and the name need a new `meshbox up`: reported, and the running ones kept', () => {
    const plan = planMeshChange(mesh(BASE), mesh(`name: other\ningress: { port: 9999 }\n${BASE}`));
    expect(plan.notApplied).toEqual(['ingress 127.0.0.1:8080 -> 127.0.0.1:9999', 'name project -> other']);
    expect(plan.changed).toEqual([]);
    expect(plan.mesh.ingress.port).toBe(8080);
    expect(plan.mesh.name).toBe('project');
  });

  it('a new rules folder moves the watch, unless --rules was given', () => {
    const moved = planMeshChange(mesh(BASE), mesh(`rules: ./istio\n${BASE}`));
    expect(moved.changed).toEqual(['changed rules folder /project/rules -> /project/istio']);
    expect(moved.mesh.rulesDir).toBe('/project/istio');
    const pinned = planMeshChange(mesh(BASE), mesh(`rules: ./istio\n${BASE}`), { rulesExplicit: true });
    expect(pinned.changed).toEqual([]);
    expect(pinned.notApplied).toEqual(['rules /project/istio (--rules was given)']);
    expect(pinned.mesh.rulesDir).toBe('/project/rules');
  });
});

describe('ReloadQueue', () => {
  it('runs one reload at a time and coalesces the calls made meanwhile into one more', async () => {
    const runs: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const q = new ReloadQueue<number>(async (t) => {
      runs.push(t);
      if (runs.length === 1) await gate;
      return runs.length;
    });
    const first = q.push(['a']);
    await Promise.resolve();
    const second = q.push(['b']);
    const third = q.push(['c', 'b']);
    expect(second).toBe(third);
    release();
    expect(await first).toBe(1);
    expect(await second).toBe(2);
    expect(runs).toEqual([['a'], ['b', 'c']]);
    await q.idle();
    expect(await q.push()).toBe(3);
  });

  it('a failing reload does not stop the next one', async () => {
    let n = 0;
    const q = new ReloadQueue<number>(async () => {
      n++;
      if (n === 1) throw new Error('boom');
      return n;
    });
    await expect(q.push()).rejects.toThrow('boom');
    expect(await q.push()).toBe(2);
  });
});
