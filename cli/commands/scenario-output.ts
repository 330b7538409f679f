/**
 * Plain-line progress of `meshbox scenario run`: one line per phase and step as they happen, the
 * assertions under their expect step, a verdict per scenario with the seed (and the replay
 * command when it did not pass), and a summary. Colours only on a TTY (see ../output.ts).
 */
import type { ScenarioProgress, ScenarioResult, StepRecord } from '../../sandbox/chaos/scenario-result.js';
import type { RunReport } from '../../sandbox/chaos/scenario-result.js';
import { formatValue } from '../../sandbox/chaos/tolerance.js';
import { paint, type Io } from '../output.js';

export function duration(ms: number): string {
  if (ms < 60_000) return formatValue(ms, 'ms');
  const m = Math.floor(ms / 60_000);
  return `${m}m${Math.round((ms % 60_000) / 1000)}s`;
}

export class ScenarioPrinter {
  private readonly c: ReturnType<typeof paint>;

  constructor(
    private readonly io: Io,
    color: boolean,
  ) {
    this.c = paint(color);
  }

  private mark(status: StepRecord['status']): string {
    const c = this.c;
    return status === 'passed' ? c('green', '✓') : status === 'failed' ? c('red', '✗') : status === 'error' ? c('red', '!') : c('gray', '-');
  }

  print(e: ScenarioProgress): void {
    const c = this.c;
    switch (e.type) {
      case 'scenario:start': {
        const where = e.scenario.file ? `${e.scenario.file}, ` : '';
        this.io.out(c('bold', `━━ [${e.index + 1}/${e.total}] ${e.scenario.title}`) + c('gray', `  (${where}seed ${e.seed})`));
        return;
      }
      case 'scenario:target':
        this.io.out(c('gray', `   ${e.message}`));
        return;
      case 'phase':
        this.io.out(`   ${c('cyan', e.title)}`);
        return;
      case 'step:start':
        return;
      case 'step:note':
        this.io.out(c('gray', `       ${e.message}`));
        return;
      case 'step:end': {
        const r = e.record;
        const name = r.name ? c('gray', ` [${r.name}]`) : '';
        this.io.out(`     ${this.mark(r.status)} ${r.title}${name}  ${c('gray', `(${duration(r.durationMs)})`)} ${r.status === 'error' ? c('red', r.summary) : r.summary}`);
        for (const a of r.assertions ?? []) {
          this.io.out(`         ${a.passed ? c('green', '✓') : c('red', '✗')} ${a.message}`);
          if (!a.passed && a.detail) this.io.out(c('gray', `           ${a.detail}`));
        }
        return;
      }
      case 'scenario:end':
        this.verdict(e.result);
        return;
    }
  }

  verdict(r: ScenarioResult): void {
    const c = this.c;
    const label = r.status === 'passed' ? c('green', 'PASS') : r.status === 'failed' ? c('red', 'FAIL') : c('red', 'ERROR');
    this.io.out(`${label} ${r.title} in ${duration(r.durationMs)} (seed ${r.seed})${r.reason ? `: ${r.reason}` : ''}`);
    if (r.status !== 'passed') this.io.out(`     replay: ${r.replay}`);
    this.io.out('');
  }

  summary(report: RunReport, skipped: number): void {
    const c = this.c;
    const n = (s: string): number => report.scenarios.filter((r) => r.status === s).length;
    const parts = [`${n('passed')} passed`, `${n('failed')} failed`, `${n('error')} error${n('error') === 1 ? '' : 's'}`];
    if (skipped) parts.push(`${skipped} not run`);
    const total = report.scenarios.length + skipped;
    const line = `${total} scenario${total === 1 ? '' : 's'}: ${parts.join(', ')} in ${duration(report.durationMs)}`;
    this.io.out(report.status === 'passed' && skipped === 0 ? c('green', line) : c('red', line));
    for (const r of report.scenarios.filter((x) => x.status !== 'passed')) this.io.out(`  ${r.status === 'failed' ? 'FAIL' : 'ERROR'} ${r.file || r.title}: ${r.reason ?? r.status}`);
  }
}
