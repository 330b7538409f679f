/**
 * Runs scenarios one after the other (each on its own sandbox, stopped before the next starts)
 * and gathers the report. An abort ends the current scenario (its rollbacks still run and its
 * sandbox stops) and skips the rest.
 */
import type { RunReport, ScenarioResult } from './scenario-result.js';
import { buildReport } from './scenario-report.js';
import { runScenario, type RunScenarioOptions } from './scenario-runner.js';
import type { Scenario } from './scenario-types.js';

export type RunScenariosOptions = Omit<RunScenarioOptions, 'index' | 'total'>;

export async function runScenarios(scenarios: readonly Scenario[], options: RunScenariosOptions = {}): Promise<RunReport> {
  const started = Date.now();
  const results: ScenarioResult[] = [];
  for (const [index, scenario] of scenarios.entries()) {
    if (options.signal?.aborted) break;
    results.push(await runScenario(scenario, { ...options, index, total: scenarios.length }));
  }
  return buildReport(results, started);
}
