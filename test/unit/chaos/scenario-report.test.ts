/** JUnit XML and the JSON journal of a run. */
import { describe, expect, it } from 'vitest';
import { buildReport, jsonReport, junitReport, xmlEscape } from '../../../sandbox/chaos/scenario-report.js';
import type { ScenarioResult, StepRecord } from '../../../sandbox/chaos/scenario-result.js';

function step(over: Partial<StepRecord>): StepRecord {
  return { phase: 'method', index: 0, type: 'wait', title: 'wait 1s', status: 'passed', startedAt: '2026-01-01T00:00:00.000Z', durationMs: 1000, summary: 'waited 1s', ...over };
}

function scenario(over: Partial<ScenarioResult>): ScenarioResult {
  return {
    file: 'scenarios/x.yaml',
    id: 'x',
    title: 'X',
    tags: ['a', 'b'],
    seed: 42,
    status: 'passed',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 5000,
    setupMs: 1500,
    target: { kind: 'sandbox', id: 'sample-abc123', runtime: 'process', ingressUrl: 'http://127.0.0.1:1', adminUrl: 'http://127.0.0.1:2' },
    steadyState: { before: 'met', after: 'met' },
    rollbackStrategy: 'default',
    rollbacksRun: true,
    interrupted: false,
    vars: { rate: 50 },
    steps: [],
    replay: 'meshbox scenario run scenarios/x.yaml --seed 42',
    ...over,
  };
}

const failed = scenario({
  id: 'canary',
  title: 'Canary <80/20> & "more"',
  status: 'failed',
  reason: 'expect share: share of subset v2: expected 80% ± 5%, saw 60%',
  steps: [
    step({ phase: 'steady-state-before', type: 'probe', title: 'probe 1x GET ingress /', summary: 'ok', location: 'scenarios/x.yaml:9:7' }),
    step({ type: 'load', title: 'load 50 req/s for 3s', name: 'split', durationMs: 3012 }),
    step({
      index: 1,
      type: 'expect',
      title: 'expect share',
      status: 'failed',
      summary: '1 of 1 assertions failed',
      assertions: [{ type: 'share', description: 'share of subset v2', expected: '80% ± 5%', observed: '60%', unit: '%', passed: false, message: 'share of subset v2: expected 80% ± 5%, saw 60% over 200 requests in load "split"', detail: 'by subset: v2: 120, v1: 80', requests: 200, value: 60 }],
    }),
    step({ index: 2, status: 'skipped', summary: 'not run', durationMs: 0 }),
    step({ phase: 'restore', type: 'restore', title: 'remove fault f', summary: 'done' }),
  ],
});
const errored = scenario({ id: 'broken', title: 'Broken', status: 'error', reason: 'the sandbox did not start: port in use', steps: [], target: undefined });
const passed = scenario({ id: 'ok', title: 'OK', steps: [step({})] });

describe('JUnit XML', () => {
  const xml = junitReport(buildReport([failed, errored, passed], Date.parse('2026-01-01T00:00:00Z'), Date.parse('2026-01-01T00:00:12Z')));

  it('one testsuite per scenario with counts, time, seed and replay properties', () => {
    expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="meshbox scenarios" tests="7" failures="1" errors="1" skipped="1" time="12.000" timestamp="2026-01-01T00:00:00">')).toBe(true);
    expect(xml).toContain('<testsuite name="Canary &lt;80/20&gt; &amp; &quot;more&quot;" id="canary" file="scenarios/x.yaml" tests="5" failures="1" errors="0" skipped="1" time="5.000" timestamp="2026-01-01T00:00:00">');
    expect(xml).toContain('<property name="seed" value="42"/>');
    expect(xml).toContain('<property name="replay" value="meshbox scenario run scenarios/x.yaml --seed 42"/>');
    expect(xml).toContain('<property name="var.rate" value="50"/>');
    expect(xml).toContain('<property name="tags" value="a,b"/>');
    expect(xml.trimEnd().endsWith('</testsuites>')).toBe(true);
  });

  it('one testcase per step: failures with the assertion, skipped steps, file and line', () => {
    expect(xml).toContain('<testcase classname="canary.steady-state-before" name="steady state (before) 1: probe 1x GET ingress /" time="1.000" file="scenarios/x.yaml" line="9">');
    expect(xml).toContain('<testcase classname="canary.method" name="method 1: load 50 req/s for 3s [split]" time="3.012">');
    expect(xml).toContain('<failure message="share of subset v2: expected 80% ± 5%, saw 60% over 200 requests in load &quot;split&quot;" type="AssertionFailed">1 of 1 assertions failed\nFAILED: share of subset v2: expected 80% ± 5%, saw 60% over 200 requests in load &quot;split&quot; [by subset: v2: 120, v1: 80]</failure>');
    expect(xml).toContain('<testcase classname="canary.method" name="method 3: wait 1s" time="0.000">\n      <skipped message="not run: an earlier step failed, or the run was interrupted"/>\n    </testcase>');
    expect(xml).toContain('<testcase classname="canary.restore" name="restore 1: remove fault f"');
  });

  it('a scenario that failed before any step gets a testcase with the reason', () => {
    expect(xml).toContain('<testsuite name="Broken" id="broken" file="scenarios/x.yaml" tests="1" failures="0" errors="1" skipped="0"');
    expect(xml).toContain('<testcase classname="broken.scenario" name="scenario" time="1.500">\n      <error message="the sandbox did not start: port in use" type="ScenarioError">the sandbox did not start: port in use</error>');
  });

  it('escapes markup and drops characters XML cannot hold', () => {
    expect(xmlEscape(`a<b>&"c'\u0001\u001b[31m`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;[31m');
  });
});

describe('JSON journal', () => {
  it('holds every scenario and step with timings, and the overall status', () => {
    const report = buildReport([failed, passed], 1000, 4000);
    expect(report.status).toBe('failed');
    expect(report.durationMs).toBe(3000);
    expect(report.meshbox).toMatch(/^\d+\.\d+\.\d+/);
    const parsed = JSON.parse(jsonReport(report)) as typeof report;
    expect(parsed.scenarios[0]!.steps.map((s) => [s.phase, s.type, s.status, s.durationMs])).toEqual([
      ['steady-state-before', 'probe', 'passed', 1000],
      ['method', 'load', 'passed', 3012],
      ['method', 'expect', 'failed', 1000],
      ['method', 'wait', 'skipped', 0],
      ['restore', 'restore', 'passed', 1000],
    ]);
    expect(parsed.scenarios[0]!.steps[2]!.assertions![0]).toMatchObject({ expected: '80% ± 5%', observed: '60%', requests: 200 });
    expect(buildReport([passed], 0, 1).status).toBe('passed');
    expect(buildReport([passed, errored, failed], 0, 1).status).toBe('error');
  });
});
