/**
 * Snapshots reach the data plane in the order they were made: a change pushed while an earlier
 * push is still being applied (a network toxic's proxy still binding) must not be overtaken by it.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FaultRecord } from '../../sandbox/faults/fault-spec.js';
import { startHarness, type Harness } from '../helpers/mesh-harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness(
    [
      { name: 'client', versions: { v1: 1 } },
      { name: 'backend', versions: { v1: 1 } },
    ],
    3,
  );
});
afterAll(async () => h?.close());

const latency = (ms: number): FaultRecord => ({
  name: 'slow-backend',
  origin: 'runtime',
  createdAt: Date.now(),
  spec: { name: 'slow-backend', target: { service: 'backend' }, toxics: [{ type: 'latency', attributes: { latency: ms } }] },
});

async function p50(): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    await h.request({ from: 'client-v1-1', host: 'backend', path: '/x' });
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[3]!;
}

it('a fault removed right after it was added is gone from the data plane', async () => {
  const base = await p50();
  // as the fault store's change listener does: each change pushed without waiting for the last
  const added = h.controlPlane.setRuntimeFaults([latency(300)]);
  const removed = h.controlPlane.setRuntimeFaults([]);
  await Promise.all([added, removed]);
  expect(h.controlPlane.current?.faults).toEqual([]);
  const after = await p50();
  expect(after).toBeLessThan(base + 150);
});
