/**
 * The runner on a fake target: phases in order, stop at the first failure, hypothesis before and
 * after, rollback strategies, restores, progress events, verdicts and the replay command.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { defineScenario, type ScenarioDefinition } from '../../../sandbox/chaos/scenario-define.js';
import type { ScenarioProgress } from '../../../sandbox/chaos/scenario-result.js';
import { runScenario, type RunScenarioOptions } from '../../../sandbox/chaos/scenario-runner.js';
import { runScenarios } from '../../../sandbox/chaos/run-scenarios.js';
import { MeshError } from '../../../sandbox/errors.js';
import { FakeTarget, type FakeAnswer } from './scenario-fakes.js';

const targets: FakeTarget[] = [];
afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

async function runOn(definition: ScenarioDefinition, answer: (n: number) => FakeAnswer = () => ({ status: 200 }), options: RunScenarioOptions = {}) {
  const target = await new FakeTarget(answer).start();
  targets.push(target);
  const progress: ScenarioProgress[] = [];
  const result = await runScenario(defineScenario(definition), {
    ...options,
    onProgress: (e) => progress.push(e),
    target: async (_s, _seed, onEvent) => {
      target.onEvent(onEvent);
      return target;
    },
  });
  return { result, progress, target };
}

const steady = { probes: [{ type: 'probe' as const, count: 2 }] };
const load = { type: 'load' as const, name: 'l', maxRequests: 20, concurrency: 2 };

function steps(result: Awaited<ReturnType<typeof runOn>>['result']): string[] {
  return result.steps.map((s) => `${s.phase} ${s.type} ${s.status}`);
}

describe('scenario runner', () => {
  it('a passing scenario: hypothesis, method, hypothesis again, rollbacks, restores; the target is closed', async () => {
    const { result, progress, target } = await runOn({
      title: 'passes',
      seed: 9,
      steadyState: steady,
      method: [
        { type: 'fault', name: 'f', target: { service: 'callme-service' }, http: { delay: { fixedDelayMs: 1 } } },
        load,
        { type: 'expect', assertions: [{ type: 'success-rate', min: 99 }] },
      ],
      rollbacks: [{ type: 'wait', duration: '1ms' }],
    });
    expect(result.status).toBe('passed');
    expect(result.reason).toBeUndefined();
    expect(result.seed).toBe(9);
    expect(result.steadyState).toEqual({ before: 'met', after: 'met' });
    expect(steps(result)).toEqual([
      'steady-state-before probe passed',
      'method fault passed',
      'method load passed',
      'method expect passed',
      'steady-state-after probe passed',
      'rollbacks wait passed',
      'restore restore passed',
    ]);
    expect(result.steps.at(-1)!.title).toBe('remove fault f');
    expect(target.faults.size).toBe(0);
    expect(target.closed).toBe(true);
    expect(result.replay).toBe('meshbox scenario run <passes> --seed 9');
    expect(result.target).toMatchObject({ kind: 'sandbox', id: 'fake-123456', runtime: 'fake' });
    expect(progress.map((p) => p.type)).toContain('scenario:end');
    expect(progress.filter((p) => p.type === 'phase').map((p) => (p as { title: string }).title)).toEqual(['steady state (before)', 'method', 'steady state (after)', 'rollbacks', 'restore what the steps changed']);
    // steps are timed one after the other, inside the run
    const starts = result.steps.map((s) => Date.parse(s.startedAt));
    expect(starts.every(Number.isFinite)).toBe(true);
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    for (const s of result.steps) expect(Number.isFinite(s.durationMs) && s.durationMs >= 0).toBe(true);
    expect(result.steps.reduce((sum, s) => sum + s.durationMs, 0)).toBeLessThanOrEqual(result.durationMs + result.steps.length);
  });

  it('a failed expectation: the method stops there, the rest is skipped, rollbacks still run', async () => {
    const { result } = await runOn(
      {
        title: 'fails',
        steadyState: steady,
        method: [load, { type: 'expect', assertions: [{ type: 'success-rate', min: 99 }] }, { type: 'wait', duration: '1ms' }],
        rollbacks: [{ type: 'wait', duration: '1ms' }],
      },
      (n) => ({ status: n >= 2 && n % 2 === 0 ? 503 : 200 }),
      { seed: 5, replayArgs: ['--var', 'rate=5'] },
    );
    expect(result.status).toBe('failed');
    expect(result.reason).toBe('expect success-rate: success rate at the ingress gateway: expected at least 99%, saw 50% over 20 requests in load "l"');
    expect(steps(result)).toEqual(['steady-state-before probe passed', 'method load passed', 'method expect failed', 'method wait skipped', 'steady-state-after probe failed', 'rollbacks wait passed']);
    expect(result.replay).toBe("meshbox scenario run <fails> --seed 5 --var rate=5");
    expect(result.rollbacksRun).toBe(true);
  });

  it('continueOnFailure runs the remaining method steps after a failed expectation', async () => {
    const { result } = await runOn({ title: 'goes on', continueOnFailure: true, method: [{ type: 'expect', assertions: [{ type: 'requests', min: 1 }] }, { type: 'wait', duration: '1ms' }] });
    expect(steps(result)).toEqual(['method expect failed', 'method wait passed']);
  });

  it('a hypothesis that fails before the method: the method does not run, nor (by default) the rollbacks', async () => {
    const def: ScenarioDefinition = { title: 'deviates', steadyState: steady, method: [{ type: 'fault', target: { service: 'callme-service' }, http: { delay: { fixedDelayMs: 1 } } }], rollbacks: [{ type: 'wait', duration: '1ms' }] };
    const { result } = await runOn(def, () => ({ status: 503 }));
    expect(result.status).toBe('failed');
    expect(result.reason).toMatch(/^steady state not met before the method: probe 2x GET ingress \/: /);
    expect(result.steadyState).toEqual({ before: 'deviated', after: 'not run' });
    expect(steps(result)).toEqual(['steady-state-before probe failed', 'method fault skipped']);
    expect(result.rollbacksRun).toBe(false);
    const always = await runOn(def, () => ({ status: 503 }), { rollbackStrategy: 'always' });
    expect(steps(always.result)).toEqual(['steady-state-before probe failed', 'method fault skipped', 'rollbacks wait passed']);
  });

  it('rollback strategies never and deviated; restores follow the rollbacks', async () => {
    const def: ScenarioDefinition = { title: 'r', method: [{ type: 'fault', name: 'f', target: { service: 'callme-service' }, http: { delay: { fixedDelayMs: 1 } } }], rollbacks: [{ type: 'wait', duration: '1ms' }] };
    const never = await runOn(def, undefined, { rollbackStrategy: 'never' });
    expect(steps(never.result)).toEqual(['method fault passed']);
    expect(never.target.faults.has('f')).toBe(true);
    const deviated = await runOn(def, undefined, { rollbackStrategy: 'deviated' });
    expect(steps(deviated.result)).toEqual(['method fault passed']);
    expect(deviated.result.status).toBe('passed');
  });

  it('a step that throws is an error of the scenario, and a failing rollback does not stop the others', async () => {
    const { result } = await runOn({
      title: 'errors',
      method: [{ type: 'workload', action: 'kill', instance: 'ghost-1' }, { type: 'wait', duration: '1ms' }],
      rollbacks: [{ type: 'remove-fault', fault: 'nope' }, { type: 'wait', duration: '1ms' }],
    });
    expect(result.status).toBe('error');
    expect(result.reason).toMatch(/^kill ghost-1: no instance ghost-1/);
    expect(steps(result)).toEqual(['method workload error', 'method wait skipped', 'rollbacks remove-fault error', 'rollbacks wait passed']);
  });

  it('background loads still running when the method ends are awaited; an abort ends the run as an error', async () => {
    const { result } = await runOn({ title: 'bg', method: [{ type: 'load', name: 'bg', rate: 100, maxRequests: 10, background: true }] });
    expect(result.status).toBe('passed');
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const started = Date.now();
    const aborted = await runOn({ title: 'aborted', method: [{ type: 'wait', duration: '30s' }, { type: 'wait', duration: '30s' }] }, undefined, { signal: ac.signal });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(aborted.result).toMatchObject({ status: 'error', reason: 'interrupted', interrupted: true });
    expect(steps(aborted.result)).toEqual(['method wait passed', 'method wait skipped']);
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 100);
    const early = await runOn({ title: 'aborted early', steadyState: { probes: [{ type: 'wait', duration: '30s' }] }, method: [{ type: 'wait', duration: '1ms' }] }, undefined, { signal: ac2.signal });
    expect(early.result).toMatchObject({ status: 'error', reason: 'interrupted', steadyState: { before: 'not run', after: 'not run' } });
    expect(steps(early.result)).toEqual(['steady-state-before wait passed', 'method wait skipped']);
  });

  it('a sandbox that does not start is an error with the reason, and nothing runs', async () => {
    const result = await runScenario(defineScenario({ title: 'no sandbox', method: [{ type: 'wait', duration: '1ms' }] }), {
      target: async () => {
        throw new MeshError('MESH_ERR_PORT_IN_USE', ['the ingress gateway', '127.0.0.1:8080', '--ingress-port']);
      },
    });
    expect(result.status).toBe('error');
    expect(result.reason).toBe('the sandbox did not start: the ingress gateway cannot listen on 127.0.0.1:8080: the port is already in use (hint: stop whatever listens on 127.0.0.1:8080 (`ss -ltnp` shows it) or choose another port with --ingress-port)');
    expect(result.steps).toEqual([]);
  });

  it('runScenarios runs them in order and reports the worst status', async () => {
    const target = await new FakeTarget().start();
    targets.push(target);
    const report = await runScenarios([defineScenario({ title: 'a', method: [{ type: 'wait', duration: '1ms' }] }), defineScenario({ title: 'b', method: [{ type: 'expect', assertions: [{ type: 'requests', min: 1 }] }] })], {
      target: async () => target,
    });
    expect(report.scenarios.map((s) => [s.title, s.status])).toEqual([
      ['a', 'passed'],
      ['b', 'failed'],
    ]);
    expect(report.status).toBe('failed');
  });

  it('defineScenario rejects a malformed scenario before anything starts, naming the fields', () => {
    expect(() => defineScenario({ title: 'bad', method: [{ type: 'load', rate: 5 } as never] })).toThrow(MeshError);
    let thrown: unknown;
    try {
      defineScenario({ title: 'bad', method: [{ type: 'load', rate: 5, duration: 'soon' }] });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(MeshError);
    expect((thrown as MeshError).findings.map((f) => f.message)).toEqual(['method[0].duration "soon" is not a valid duration: unexpected "soon"; write a number and a unit (h, m, s, ms, us, ns)']);
    expect((thrown as MeshError).findings[0]!.location).toBeUndefined();
  });
});
