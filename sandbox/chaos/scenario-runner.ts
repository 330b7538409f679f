/**
 * Runs a scenario, Chaos Toolkit style:
 *
 *   start (or attach to) a sandbox with the seed
 *   steady state before ── deviated? ──> the method does not run
 *   method: steps in order, stopping at the first that fails (or errors)
 *   background loads still running are awaited
 *   steady state after
 *   rollbacks (by --rollback-strategy), then meshbox restores what steps changed, newest first
 *   stop the sandbox (always)
 *
 * The verdict: `passed` when every step passed; `failed` when an expectation did not hold (a
 * deviated hypothesis, a failed expect or probe); `error` when something could not be done (the
 * sandbox did not start, a step threw, a rollback failed, the run was interrupted).
 */
import { MeshError } from '../errors.js';
import { formatLocation } from '../config/findings.js';
import { Rng, randomSeed } from '../rng.js';
import type { RuntimeChoice } from '../sandbox.js';
import { AttachedTarget } from './attached-target.js';
import { RunState } from './run-state.js';
import { sleep as abortableSleep } from './sleep.js';
import type { ScenarioProgress, ScenarioResult, StepRecord, StepStatus } from './scenario-result.js';
import { SandboxTarget } from './sandbox-target.js';
import type { ScenarioTarget } from './scenario-target.js';
import { PHASE_TITLES, type Phase, type RollbackStrategy, type Scenario, type Step } from './scenario-types.js';
import { stepType } from './steps/index.js';
import type { StepContext } from './steps/step-type.js';
import { formatValue, toMs } from './tolerance.js';
import { TrafficRecorder } from './traffic-recorder.js';

export interface RunScenarioOptions {
  /** where workloads run (default auto: Docker when a daemon answers, else processes) */
  runtime?: RuntimeChoice;
  /** overrides the scenario's seed */
  seed?: number;
  /** Chaos Toolkit's --rollback-strategy (default `default`: unless the hypothesis failed before the method) */
  rollbackStrategy?: RollbackStrategy;
  /** abort (Ctrl-C): the current step ends early, the rest is skipped, rollbacks run, the sandbox stops */
  signal?: AbortSignal;
  /** live progress (plain lines in the CLI, the TUI later) */
  onProgress?: (e: ScenarioProgress) => void;
  /** overrides the scenario's mesh.readyTimeout */
  readyTimeoutMs?: number;
  /** worker threads of the sandbox's data plane (`--data-plane-workers`) */
  dataPlaneWorkers?: number;
  /** extra arguments for the replay command (`--var rate=50`) */
  replayArgs?: string[];
  /** position in a batch, for progress */
  index?: number;
  total?: number;
  /** tests: the target to run on instead of starting or attaching one */
  target?: (scenario: Scenario, seed: number, onEvent: TrafficRecorder['record']) => Promise<ScenarioTarget>;
}

function errorText(e: unknown): string {
  if (e instanceof MeshError) return `${e.message} (hint: ${e.hint})`;
  return e instanceof Error ? e.message : String(e);
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export async function runScenario(scenario: Scenario, options: RunScenarioOptions = {}): Promise<ScenarioResult> {
  const emit = (e: ScenarioProgress): void => options.onProgress?.(e);
  const seed = options.seed ?? scenario.seed ?? randomSeed();
  const strategy = options.rollbackStrategy ?? 'default';
  const signal = options.signal ?? new AbortController().signal;
  const started = Date.now();
  const fileArg = scenario.file ? quote(scenario.file) : `<${scenario.id}>`;
  const result: ScenarioResult = {
    file: scenario.file,
    id: scenario.id,
    title: scenario.title,
    tags: scenario.tags,
    seed,
    status: 'passed',
    startedAt: new Date(started).toISOString(),
    durationMs: 0,
    setupMs: 0,
    steadyState: { before: 'not run', after: 'not run' },
    rollbackStrategy: strategy,
    rollbacksRun: false,
    interrupted: false,
    vars: scenario.vars,
    steps: [],
    replay: ['meshbox', 'scenario', 'run', fileArg, '--seed', String(seed), ...(options.replayArgs ?? []).map(quote)].join(' '),
  };
  if (scenario.description !== undefined) result.description = scenario.description;
  emit({ type: 'scenario:start', scenario, seed, index: options.index ?? 0, total: options.total ?? 1 });

  const finish = (): ScenarioResult => {
    result.durationMs = Date.now() - started;
    emit({ type: 'scenario:end', result });
    return result;
  };
  const fail = (status: 'failed' | 'error', reason: string): void => {
    // an error outranks a failure; the first reason of a rank is kept
    if (result.status === 'error' || (result.status === 'failed' && status === 'failed')) return;
    result.status = status;
    // one line: a multi-line error (a stack) stays whole in the step's record
    result.reason = reason.split('\n')[0]!.trim();
  };

  // ── the sandbox
  const recorder = new TrafficRecorder();
  let target: ScenarioTarget;
  const attach = scenario.mesh.attach;
  emit({ type: 'scenario:target', message: attach ? `attaching to the sandbox at ${attach}` : `starting a sandbox of ${scenario.mesh.config ?? 'the sample mesh'} (seed ${seed})` });
  try {
    const readyTimeoutMs = options.readyTimeoutMs ?? (scenario.mesh.readyTimeout !== undefined ? toMs(scenario.mesh.readyTimeout) : undefined);
    if (options.target) {
      target = await options.target(scenario, seed, recorder.record);
    } else if (attach) {
      target = await AttachedTarget.connect(attach, { host: scenario.mesh.host });
      target.onEvent(recorder.record);
    } else {
      target = await new SandboxTarget({
        config: scenario.mesh.config,
        rules: scenario.mesh.rules,
        runtime: options.runtime,
        seed,
        host: scenario.mesh.host,
        readyTimeoutMs,
        ...(options.dataPlaneWorkers !== undefined ? { dataPlaneWorkers: options.dataPlaneWorkers } : {}),
        onEvent: recorder.record,
        onRetry: (message) => emit({ type: 'scenario:target', message }),
      }).start();
    }
  } catch (e) {
    result.setupMs = Date.now() - started;
    fail('error', `the sandbox did not start: ${errorText(e)}`);
    return finish();
  }
  result.setupMs = Date.now() - started;
  result.target = { kind: target.kind, id: target.id, ingressUrl: target.ingressUrl, adminUrl: target.adminUrl };
  if (target.runtime) result.target.runtime = target.runtime;
  if (attach && target.seed !== undefined && options.seed === undefined && scenario.seed === undefined) result.seed = target.seed;
  emit({
    type: 'scenario:target',
    message: `${target.kind === 'sandbox' ? 'sandbox' : 'attached to'} ${target.id} ready in ${formatValue(result.setupMs, 'ms')}${target.runtime ? ` (${target.runtime} runtime)` : ''}: ingress ${target.ingressUrl}, admin ${target.adminUrl}`,
  });

  const state = new RunState();
  const root = new Rng(seed);
  const sleep = (ms: number): Promise<void> => abortableSleep(ms, signal);

  const phaseSalt: Record<Phase, number> = { 'steady-state-before': 1, method: 2, 'steady-state-after': 3, rollbacks: 4 };

  const runStep = async (step: Step): Promise<StepRecord> => {
    const spec = step.spec;
    const t = stepType(spec.type)!;
    const title = t.title?.(spec) ?? spec.type;
    const record: StepRecord = {
      phase: step.phase,
      index: step.index,
      type: spec.type,
      title,
      status: 'passed',
      startedAt: new Date().toISOString(),
      durationMs: 0,
      summary: '',
    };
    if (spec.name !== undefined) record.name = spec.name;
    if (step.location) record.location = formatLocation(step.location);
    emit({ type: 'step:start', phase: step.phase, index: step.index, title: spec.name ? `${title} [${spec.name}]` : title });
    const t0 = Date.now();
    if (spec.name !== undefined) state.steps.set(spec.name, { startedAt: t0 });
    const notes: string[] = [];
    const ctx: StepContext = {
      target,
      traffic: recorder,
      state,
      scenario,
      step,
      rng: root.fork(phaseSalt[step.phase] * 10_000 + step.index),
      signal,
      baseDir: scenario.baseDir,
      note: (message) => {
        notes.push(message);
        emit({ type: 'step:note', message });
      },
      sleep,
      restoreLater: (description, undo) => state.restores.push({ description, undo }),
    };
    try {
      if (spec.pauses?.before !== undefined) await sleep(toMs(spec.pauses.before));
      const outcome = await t.run(spec, ctx);
      record.status = outcome.failed ? 'failed' : 'passed';
      record.summary = outcome.summary;
      if (outcome.assertions) record.assertions = outcome.assertions;
      if (outcome.data) record.data = outcome.data;
      if (spec.pauses?.after !== undefined) await sleep(toMs(spec.pauses.after));
    } catch (e) {
      record.status = 'error';
      record.error = errorText(e);
      record.summary = `error: ${record.error.split('\n')[0]}`;
    }
    const end = state.steps.get(spec.name ?? '');
    if (spec.name !== undefined && end) end.endedAt = Date.now();
    record.durationMs = Date.now() - t0;
    if (notes.length) record.notes = notes;
    result.steps.push(record);
    emit({ type: 'step:end', record });
    return record;
  };

  const skip = (step: Step): void => {
    const t = stepType(step.spec.type)!;
    const record: StepRecord = {
      phase: step.phase,
      index: step.index,
      type: step.spec.type,
      title: t.title?.(step.spec) ?? step.spec.type,
      status: 'skipped',
      startedAt: new Date().toISOString(),
      durationMs: 0,
      summary: 'not run',
    };
    if (step.spec.name !== undefined) record.name = step.spec.name;
    if (step.location) record.location = formatLocation(step.location);
    result.steps.push(record);
  };

  /** runs steps in order; stops at the first failure or error (unless told otherwise); returns the worst status */
  const runPhase = async (phase: Phase, steps: Step[], opts: { keepGoing: 'never' | 'failures' | 'always' }): Promise<StepStatus> => {
    if (steps.length === 0) return 'passed';
    state.phaseStartedAt = Date.now();
    state.lastTraffic = undefined;
    emit({ type: 'phase', phase, title: phase.startsWith('steady-state') && scenario.steadyState?.title ? `${PHASE_TITLES[phase]}: ${scenario.steadyState.title}` : PHASE_TITLES[phase] });
    let worst: StepStatus = 'passed';
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      if (signal.aborted) {
        steps.slice(i).forEach(skip);
        return worst === 'passed' ? 'error' : worst;
      }
      const r = await runStep(step);
      if (r.status === 'error') worst = 'error';
      else if (r.status === 'failed' && worst === 'passed') worst = 'failed';
      const stop = r.status === 'error' ? opts.keepGoing !== 'always' : r.status === 'failed' ? opts.keepGoing === 'never' : false;
      if (stop) {
        steps.slice(i + 1).forEach(skip);
        break;
      }
    }
    return worst;
  };

  const firstProblem = (phase: Phase): string => {
    const r = result.steps.find((s) => s.phase === phase && (s.status === 'failed' || s.status === 'error'));
    if (!r) return signal.aborted ? 'interrupted' : '';
    const failedAssertion = r.assertions?.find((a) => !a.passed);
    return `${r.title}${r.name ? ` [${r.name}]` : ''}: ${failedAssertion ? failedAssertion.message : (r.error ?? r.summary)}`;
  };

  const hypothesis = scenario.steadyState?.probes ?? [];
  const after = hypothesis.map((s) => ({ ...s, phase: 'steady-state-after' as Phase }));
  let methodStatus: StepStatus = 'passed';
  try {
    // ── steady state before
    if (hypothesis.length) {
      const s = await runPhase('steady-state-before', hypothesis, { keepGoing: 'never' });
      if (signal.aborted) {
        fail('error', 'interrupted');
      } else {
        result.steadyState.before = s === 'passed' ? 'met' : 'deviated';
        if (s !== 'passed') fail(s === 'error' ? 'error' : 'failed', `steady state not met before the method: ${firstProblem('steady-state-before')}`);
      }
    }
    // ── method
    if (result.steadyState.before !== 'deviated' && !signal.aborted) {
      methodStatus = await runPhase('method', scenario.method, { keepGoing: scenario.continueOnFailure ? 'failures' : 'never' });
      if (methodStatus !== 'passed') fail(methodStatus === 'error' ? 'error' : 'failed', firstProblem('method'));
      // background loads end by their bounds; the method is over when they are
      const running = state.running();
      if (running.length) {
        if (signal.aborted || methodStatus !== 'passed') await Promise.all(running.map((l) => l.generator.stop()));
        else {
          emit({ type: 'step:note', message: `waiting for background load${running.length > 1 ? 's' : ''} ${running.map((l) => `"${l.name}"`).join(', ')} to end` });
          const stopAll = (): void => running.forEach((l) => void l.generator.stop());
          signal.addEventListener('abort', stopAll, { once: true });
          await Promise.all(running.map((l) => l.done));
          signal.removeEventListener('abort', stopAll);
        }
      }
      // ── steady state after
      if (after.length && !signal.aborted) {
        const s = await runPhase('steady-state-after', after, { keepGoing: 'never' });
        result.steadyState.after = s === 'passed' ? 'met' : 'deviated';
        if (s !== 'passed') fail(s === 'error' ? 'error' : 'failed', `steady state not met after the method: ${firstProblem('steady-state-after')}`);
      }
    } else {
      scenario.method.forEach(skip);
    }
  } catch (e) {
    fail('error', `internal error: ${errorText(e)}`);
  }

  // ── rollbacks and restores
  await Promise.all(state.running().map((l) => l.generator.stop()));
  const deviated = result.steadyState.before === 'deviated' || result.steadyState.after === 'deviated' || methodStatus !== 'passed';
  const rollback = strategy === 'always' || (strategy === 'default' && result.steadyState.before !== 'deviated') || (strategy === 'deviated' && deviated);
  if (rollback) {
    result.rollbacksRun = true;
    const s = await runPhase('rollbacks', scenario.rollbacks, { keepGoing: 'always' });
    if (s !== 'passed') fail(s === 'error' ? 'error' : 'failed', `rollback: ${firstProblem('rollbacks')}`);
    const restores = [...state.restores].reverse();
    if (restores.length) {
      emit({ type: 'phase', phase: 'restore', title: 'restore what the steps changed' });
      for (const [i, r] of restores.entries()) {
        emit({ type: 'step:start', phase: 'restore', index: i, title: r.description });
        const t0 = Date.now();
        const record: StepRecord = { phase: 'restore', index: i, type: 'restore', title: r.description, status: 'passed', startedAt: new Date(t0).toISOString(), durationMs: 0, summary: 'done' };
        try {
          const said = await r.undo();
          if (said) record.summary = said;
        } catch (e) {
          record.status = 'error';
          record.error = errorText(e);
          record.summary = `error: ${record.error}`;
          fail('error', `restore failed: ${r.description}: ${record.error}`);
        }
        record.durationMs = Date.now() - t0;
        result.steps.push(record);
        emit({ type: 'step:end', record });
      }
    }
  } else if (scenario.rollbacks.length || state.restores.length) {
    emit({ type: 'step:note', message: `rollbacks not run (--rollback-strategy ${strategy}${strategy === 'default' ? ': the steady state was not met before the method' : ''})` });
  }

  if (signal.aborted) {
    result.interrupted = true;
    fail('error', 'interrupted');
  }
  emit({ type: 'scenario:target', message: target.kind === 'sandbox' ? `stopping sandbox ${target.id}` : `detaching from ${target.id}` });
  await target.close().catch((e: unknown) => fail('error', `the sandbox did not stop cleanly: ${errorText(e)}`));
  return finish();
}
