/**
 * `--seed` on real sockets: two data planes started with one seed make the same random choices
 * (weighted destination, fault sampling) for each request, whatever order concurrent requests
 * arrive in, because every request draws from its own generator (RequestRandomness).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

const client = 'client-v1-1';
const RULES = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - route:
        - { destination: { host: backend, subset: v1 }, weight: 50 }
        - { destination: { host: backend, subset: v2 }, weight: 50 }
      fault: { abort: { httpStatus: 503, percentage: { value: 30 } } }
`;

let open: Harness | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function mesh(seed: number): Promise<Harness> {
  open = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 1 } },
  ], seed);
  await open.rules(RULES);
  return open;
}

/** what happened to a request: the instance that answered, or the fault's status */
async function outcome(h: Harness, id?: string): Promise<string> {
  const r = await h.request({ from: client, host: 'backend', path: '/x', headers: id ? { 'x-request-id': id } : {} });
  return r.status === 200 ? String(r.json()['instance']) : String(r.status);
}

const IDS = Array.from({ length: 80 }, (_, i) => `req-${i}`);

/** sends IDS in `order`, `concurrency` at a time, and returns id -> outcome */
async function run(seed: number, order: string[], concurrency: number): Promise<Map<string, string>> {
  const h = await mesh(seed);
  const result = new Map<string, string>();
  for (let i = 0; i < order.length; i += concurrency) {
    const batch = order.slice(i, i + concurrency);
    const outcomes = await Promise.all(batch.map((id) => outcome(h, id)));
    batch.forEach((id, k) => result.set(id, outcomes[k]!));
  }
  await h.close();
  open = undefined;
  return result;
}

describe('--seed replays concurrent traffic', () => {
  it('two runs with one seed make the same choice for every request, in whatever order concurrent requests arrive', async () => {
    const first = await run(7, IDS, 16);
    const shuffled = [...IDS].reverse();
    const second = await run(7, shuffled, 16);
    expect([...second.entries()].sort()).toEqual([...first.entries()].sort());
    // the choices are random draws, not one answer: both subsets and the fault all occur
    const kinds = new Set(first.values());
    expect([...kinds].sort()).toEqual(['503', 'backend-v1-1', 'backend-v2-1']);
    // and another seed draws differently
    const other = await run(8, IDS, 16);
    expect(IDS.filter((id) => other.get(id) !== first.get(id)).length).toBeGreaterThan(10);
  });

  it('requests without an x-request-id: same choices and the same generated ids when sent in the same order', async () => {
    const once = async (): Promise<{ outcomes: string[]; ids: string[] }> => {
      const h = await mesh(11);
      const outcomes: string[] = [];
      for (let i = 0; i < 30; i++) outcomes.push(await outcome(h));
      const ids = [...h.apps.values()].flatMap((a) => a.requests.map((r) => String(r.headers['x-request-id']))).sort();
      await h.close();
      open = undefined;
      return { outcomes, ids };
    };
    const a = await once();
    const b = await once();
    expect(b.outcomes).toEqual(a.outcomes);
    expect(b.ids).toEqual(a.ids);
    expect(a.ids.length).toBeGreaterThan(10);
    for (const id of a.ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(a.ids).size).toBe(a.ids.length);
  });

  it('requests that share one x-request-id still draw independently (an app fanning out under one id)', async () => {
    const h = await mesh(5);
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) outcomes.push(await outcome(h, 'one-id-for-all'));
    expect(new Set(outcomes).size).toBe(3);
    const v1 = outcomes.filter((o) => o === 'backend-v1-1').length;
    expect(v1).toBeGreaterThan(4);
    expect(v1).toBeLessThan(30);
  });
});
