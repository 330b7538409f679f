/**
 * Reports of a run: JUnit XML for CI (one testsuite per scenario, one testcase per step, with
 * the seed and the replay command as properties) and the JSON journal (every step with its
 * timings, results and assertion details).
 */
import { packageVersion } from '../paths.js';
import type { RunReport, ScenarioResult, ScenarioStatus, StepRecord } from './scenario-result.js';
import { PHASE_TITLES } from './scenario-types.js';

export function buildReport(results: ScenarioResult[], startedAt: number, endedAt = Date.now()): RunReport {
  const status: ScenarioStatus = results.some((r) => r.status === 'error') ? 'error' : results.some((r) => r.status === 'failed') ? 'failed' : 'passed';
  return { meshbox: packageVersion(), startedAt: new Date(startedAt).toISOString(), durationMs: endedAt - startedAt, status, scenarios: results };
}

export function jsonReport(report: RunReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

// XML 1.0 allows tab, LF, CR and the characters from U+0020 on
// eslint-disable-next-line no-control-regex
const INVALID_XML = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlEscape(text: string): string {
  return text.replace(INVALID_XML, '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function attr(name: string, value: string | number | undefined): string {
  return value === undefined ? '' : ` ${name}="${xmlEscape(String(value))}"`;
}

function phaseTitle(s: StepRecord): string {
  return s.phase === 'restore' ? 'restore' : PHASE_TITLES[s.phase];
}

function stepText(s: StepRecord): string {
  const lines = [s.summary];
  for (const n of s.notes ?? []) lines.push(`note: ${n}`);
  for (const a of s.assertions ?? []) lines.push(`${a.passed ? 'ok' : 'FAILED'}: ${a.message}${a.detail ? ` [${a.detail}]` : ''}`);
  return lines.join('\n');
}

function testcase(r: ScenarioResult, s: StepRecord): string {
  const name = `${phaseTitle(s)} ${s.index + 1}: ${s.title}${s.name ? ` [${s.name}]` : ''}`;
  const loc = s.location ? /^(.*):(\d+):(\d+)$/.exec(s.location) : null;
  const open = `    <testcase${attr('classname', `${r.id}.${s.phase}`)}${attr('name', name)}${attr('time', seconds(s.durationMs))}${loc ? `${attr('file', loc[1])}${attr('line', loc[2])}` : ''}>`;
  const body: string[] = [];
  if (s.status === 'failed') {
    const first = s.assertions?.find((a) => !a.passed)?.message ?? s.summary;
    body.push(`      <failure${attr('message', first)}${attr('type', s.type === 'expect' ? 'AssertionFailed' : 'ProbeFailed')}>${xmlEscape(stepText(s))}</failure>`);
  } else if (s.status === 'error') {
    body.push(`      <error${attr('message', s.error ?? s.summary)}${attr('type', 'StepError')}>${xmlEscape(stepText(s))}</error>`);
  } else if (s.status === 'skipped') {
    body.push(`      <skipped${attr('message', 'not run: an earlier step failed, or the run was interrupted')}/>`);
  }
  if (s.status !== 'skipped') body.push(`      <system-out>${xmlEscape(stepText(s))}</system-out>`);
  return [open, ...body, '    </testcase>'].join('\n');
}

function testsuite(r: ScenarioResult): string {
  const cases = r.steps.map((s) => testcase(r, s));
  let failures = r.steps.filter((s) => s.status === 'failed').length;
  let errors = r.steps.filter((s) => s.status === 'error').length;
  const skipped = r.steps.filter((s) => s.status === 'skipped').length;
  let tests = r.steps.length;
  // a verdict no step carries (the sandbox did not start, the run was interrupted) gets its own testcase
  if (r.status !== 'passed' && failures + errors === 0) {
    tests++;
    const tag = r.status === 'failed' ? 'failure' : 'error';
    if (tag === 'failure') failures++;
    else errors++;
    cases.unshift(`    <testcase${attr('classname', `${r.id}.scenario`)}${attr('name', 'scenario')}${attr('time', seconds(r.setupMs))}>\n      <${tag}${attr('message', r.reason ?? r.status)}${attr('type', 'ScenarioError')}>${xmlEscape(r.reason ?? r.status)}</${tag}>\n    </testcase>`);
  }
  const props: Array<[string, string | number | undefined]> = [
    ['status', r.status],
    ['reason', r.reason],
    ['seed', r.seed],
    ['replay', r.replay],
    ['runtime', r.target?.runtime],
    ['sandbox', r.target?.id],
    ['tags', r.tags.join(',') || undefined],
    ['rollbackStrategy', r.rollbackStrategy],
    ...Object.entries(r.vars).map(([k, v]): [string, string] => [`var.${k}`, String(v)]),
  ];
  const properties = props
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `      <property${attr('name', k)}${attr('value', v)}/>`)
    .join('\n');
  return [
    `  <testsuite${attr('name', r.title)}${attr('id', r.id)}${attr('file', r.file || undefined)}${attr('tests', tests)}${attr('failures', failures)}${attr('errors', errors)}${attr('skipped', skipped)}${attr('time', seconds(r.durationMs))}${attr('timestamp', r.startedAt.replace(/\.\d+Z$/, ''))}>`,
    `    <properties>\n${properties}\n    </properties>`,
    ...cases,
    '  </testsuite>',
  ].join('\n');
}

export function junitReport(report: RunReport): string {
  const count = (f: (s: StepRecord) => boolean): number => report.scenarios.reduce((n, r) => n + r.steps.filter(f).length, 0);
  const suites = report.scenarios.map(testsuite);
  const setupProblems = report.scenarios.filter((r) => r.status !== 'passed' && !r.steps.some((s) => s.status === 'failed' || s.status === 'error'));
  const tests = count(() => true) + setupProblems.length;
  const failures = count((s) => s.status === 'failed') + setupProblems.filter((r) => r.status === 'failed').length;
  const errors = count((s) => s.status === 'error') + setupProblems.filter((r) => r.status === 'error').length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attr('name', 'meshbox scenarios')}${attr('tests', tests)}${attr('failures', failures)}${attr('errors', errors)}${attr('skipped', count((s) => s.status === 'skipped'))}${attr('time', seconds(report.durationMs))}${attr('timestamp', report.startedAt.replace(/\.\d+Z$/, ''))}>`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}
