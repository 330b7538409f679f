/**
 * `meshbox scenario`: scripted chaos, headless, with a report and an exit code.
 *
 *   meshbox scenario run FILE|DIR... [--runtime auto|process|docker] [--seed N] [--var k=v]...
 *                        [--report junit.xml] [--json report.json] [--rollback-strategy S]
 *   meshbox scenario validate FILE|DIR... [--var k=v]... [--json]
 *   meshbox scenario ls [DIR] [--json]
 *   meshbox scenario schema [--write FILE]
 *
 * `run` validates every file first: a malformed scenario is reported with file:line:col and
 * nothing starts. Then each scenario runs on its own sandbox (free ports, stopped afterwards), one
 * after the other, with live progress lines. Exit code 0 only if every scenario passed; 1 when one
 * failed, errored or was invalid; 130 when interrupted.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { hasErrors, type Finding } from '../../sandbox/config/findings.js';
import { MeshError } from '../../sandbox/errors.js';
import { packageRoot } from '../../sandbox/paths.js';
import type { RuntimeChoice } from '../../sandbox/sandbox.js';
import { loadScenarioFile, parseScenarioText } from '../../sandbox/chaos/scenario-loader.js';
import { runScenarios } from '../../sandbox/chaos/run-scenarios.js';
import { jsonReport, junitReport } from '../../sandbox/chaos/scenario-report.js';
import { scenarioJsonSchema } from '../../sandbox/chaos/scenario-schema.js';
import { ROLLBACK_STRATEGIES, type RollbackStrategy, type Scenario, type VarValue } from '../../sandbox/chaos/scenario-types.js';
import { parseVarAssignment } from '../../sandbox/chaos/scenario-vars.js';
import { paint, printFindings, useColor, type Io } from '../output.js';
import { sortFindings } from './validate.js';
import { ScenarioPrinter } from './scenario-output.js';
import { MAX_DATA_PLANE_WORKERS } from '../../sandbox/proxy/data-plane.js';

export interface ScenarioRunOptions {
  runtime: RuntimeChoice;
  seed?: number;
  var?: string[];
  report?: string;
  json?: string;
  rollbackStrategy?: RollbackStrategy;
  readyTimeout?: number;
  dataPlaneWorkers?: number;
}

/** the folder of the scenarios shipped with meshbox */
export function shippedScenariosDir(): string {
  return path.join(packageRoot(), 'scenarios');
}

function isScenarioFile(name: string): boolean {
  return /\.ya?ml$/i.test(name) && !name.startsWith('.');
}

/** files as given; a folder stands for its *.yaml files (not its subfolders) */
export function expandScenarioPaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (existsSync(p) && statSync(p).isDirectory()) {
      out.push(
        ...readdirSync(p)
          .filter(isScenarioFile)
          .sort()
          .map((f) => path.join(p, f)),
      );
    } else {
      out.push(p);
    }
  }
  return out;
}

function parseVars(list: readonly string[] | undefined): Record<string, VarValue> {
  const vars: Record<string, VarValue> = {};
  for (const text of list ?? []) {
    try {
      const [k, v] = parseVarAssignment(text);
      vars[k] = v;
    } catch (e) {
      throw new MeshError('MESH_ERR_USAGE', [(e as Error).message], { hint: 'write --var name=value, e.g. --var rate=50' });
    }
  }
  return vars;
}

interface Loaded {
  scenarios: Scenario[];
  findings: Finding[];
  invalid: string[];
}

async function loadAll(files: readonly string[], vars: Record<string, VarValue>): Promise<Loaded> {
  const out: Loaded = { scenarios: [], findings: [], invalid: [] };
  for (const file of files) {
    const r = await loadScenarioFile(file, { vars });
    out.findings.push(...r.findings);
    if (r.scenario && !hasErrors(r.findings)) out.scenarios.push(r.scenario);
    else out.invalid.push(file);
  }
  return out;
}

export async function runScenarioRun(files: string[], opts: ScenarioRunOptions, io: Io): Promise<number> {
  const color = useColor();
  const c = paint(color);
  const expanded = expandScenarioPaths(files);
  if (expanded.length === 0) throw new MeshError('MESH_ERR_USAGE', ['no scenario files given'], { hint: 'meshbox scenario run scenarios/*.yaml (`meshbox scenario ls` lists the shipped ones)' });
  const vars = parseVars(opts.var);
  const loaded = await loadAll(expanded, vars);
  if (loaded.findings.length) printFindings(io, sortFindings(loaded.findings), useColor(process.stderr));
  if (loaded.invalid.length) {
    io.err(c('red', `${loaded.invalid.length} of ${expanded.length} scenario file${expanded.length === 1 ? '' : 's'} ${loaded.invalid.length === 1 ? 'is' : 'are'} invalid (${loaded.invalid.join(', ')}): nothing was run`));
    return 1;
  }

  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      io.err(c('yellow', `${sig}: ending the current scenario (its rollbacks run and its sandbox stops); the rest are not run`));
      controller.abort();
    } else if (signals === 2) {
      io.err(c('yellow', 'still stopping the sandbox; a third signal exits at once (the next meshbox run cleans up what is left)'));
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const printer = new ScenarioPrinter(io, color);
  const replayArgs: string[] = [];
  if (opts.runtime !== 'auto') replayArgs.push('--runtime', opts.runtime);
  for (const v of opts.var ?? []) replayArgs.push('--var', v);
  let report;
  try {
    report = await runScenarios(loaded.scenarios, {
      runtime: opts.runtime,
      seed: opts.seed,
      rollbackStrategy: opts.rollbackStrategy,
      readyTimeoutMs: opts.readyTimeout,
      ...(opts.dataPlaneWorkers !== undefined ? { dataPlaneWorkers: opts.dataPlaneWorkers } : {}),
      signal: controller.signal,
      onProgress: (e) => printer.print(e),
      replayArgs,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const skipped = loaded.scenarios.length - report.scenarios.length;
  printer.summary(report, skipped);
  const written: string[] = [];
  for (const [file, text, what] of [
    [opts.report, () => junitReport(report), 'JUnit report'],
    [opts.json, () => jsonReport(report), 'JSON journal'],
  ] as const) {
    if (!file) continue;
    const dir = path.dirname(path.resolve(file));
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    writeFileSync(file, text());
    written.push(`${what}: ${file}`);
  }
  if (written.length) io.out(c('gray', written.join('; ')));
  if (controller.signal.aborted) return 130;
  return report.status === 'passed' && skipped === 0 ? 0 : 1;
}

export async function runScenarioValidate(files: string[], opts: { var?: string[]; json?: boolean }, io: Io): Promise<number> {
  const expanded = expandScenarioPaths(files);
  if (expanded.length === 0) throw new MeshError('MESH_ERR_USAGE', ['no scenario files given'], { hint: 'meshbox scenario validate scenarios/*.yaml' });
  const loaded = await loadAll(expanded, parseVars(opts.var));
  const findings = sortFindings(loaded.findings);
  if (opts.json) {
    io.out(JSON.stringify({ ok: loaded.invalid.length === 0, files: expanded.map((f) => ({ file: f, valid: !loaded.invalid.includes(f) })), findings }, null, 2));
  } else {
    printFindings(io, findings, useColor(process.stderr));
    const c = paint(useColor());
    for (const s of loaded.scenarios) io.out(`${c('green', 'ok')} ${s.file}: ${s.title} (${s.method.length} step${s.method.length === 1 ? '' : 's'}${s.steadyState ? `, ${s.steadyState.probes.length} steady-state probe${s.steadyState.probes.length === 1 ? '' : 's'}` : ''}${s.rollbacks.length ? `, ${s.rollbacks.length} rollback${s.rollbacks.length === 1 ? '' : 's'}` : ''})`);
    io.out(`${expanded.length} scenario file${expanded.length === 1 ? '' : 's'}: ${loaded.invalid.length} invalid`);
  }
  return loaded.invalid.length ? 1 : 0;
}

interface Listed {
  file: string;
  title: string;
  tags: string[];
  expectedToFail: boolean;
  valid: boolean;
}

async function list(dir: string, expectedToFail: boolean): Promise<Listed[]> {
  if (!existsSync(dir)) return [];
  const out: Listed[] = [];
  for (const name of readdirSync(dir).filter(isScenarioFile).sort()) {
    const file = path.join(dir, name);
    const shown = path.relative(process.cwd(), file) || file;
    const r = parseScenarioText(await readFile(file, 'utf8'), shown);
    out.push({ file: shown, title: r.scenario?.title ?? '(invalid: `meshbox scenario validate` says why)', tags: r.scenario?.tags ?? [], expectedToFail, valid: r.scenario !== undefined });
  }
  return out;
}

export async function runScenarioList(folder: string | undefined, opts: { json?: boolean }, io: Io): Promise<number> {
  const dir = folder ?? shippedScenariosDir();
  if (!existsSync(dir)) throw new MeshError('MESH_ERR_USAGE', [`no folder ${dir}`], { hint: 'give a folder of scenario files' });
  const all = [...(await list(dir, false)), ...(await list(path.join(dir, 'failing'), true))];
  if (opts.json) {
    io.out(JSON.stringify(all, null, 2));
    return 0;
  }
  const c = paint(useColor());
  const width = Math.max(0, ...all.map((s) => s.file.length));
  for (const s of all) {
    io.out(`${s.file.padEnd(width)}  ${s.title}${s.tags.length ? c('gray', `  [${s.tags.join(', ')}]`) : ''}${s.expectedToFail ? c('yellow', '  (expected to fail: shows a failure report)') : ''}`);
  }
  const rel = path.relative(process.cwd(), dir) || '.';
  io.out(c('gray', `run them: meshbox scenario run ${rel}/*.yaml --report junit.xml`));
  return 0;
}

export function runScenarioSchema(opts: { write?: string }, io: Io): number {
  const text = `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
  if (opts.write) {
    writeFileSync(opts.write, text);
    io.out(`wrote ${opts.write}`);
  } else {
    io.out(text.trimEnd());
  }
  return 0;
}

/** Adds `meshbox scenario ...` to the program; `run` turns an action's exit code into the process's. */
export function registerScenarioCommand(program: Command, run: (action: () => Promise<number>) => Promise<void>, io: Io): void {
  const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
  const integer = (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 4_294_967_295) throw new InvalidArgumentError('must be a whole number from 0 to 4294967295');
    return n;
  };
  const seconds = (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number of seconds');
    return Math.round(n * 1000);
  };
  const scenario = program.command('scenario').description('scripted chaos: inject faults, send load, assert on the traffic, roll back; headless, with a report and an exit code');
  scenario
    .command('run')
    .description('run scenario files, each on its own sandbox; exit 0 only if every scenario passed')
    .argument('<files...>', 'scenario files, or folders of them (e.g. scenarios/*.yaml)')
    .addOption(new Option('--runtime <runtime>', 'where workloads run').choices(['auto', 'process', 'docker']).default('auto'))
    .option('--seed <n>', "seed for every random choice (replaces each scenario's own)", integer)
    .option('--var <name=value>', 'set a variable of the scenarios (repeatable)', collect)
    .option('--report <file>', 'write a JUnit XML report')
    .option('--json <file>', 'write the JSON journal of every step with timings')
    .addOption(new Option('--rollback-strategy <strategy>', 'when rollbacks run: default (unless the steady state failed before the method), always, never, deviated (only if something failed)').choices([...ROLLBACK_STRATEGIES]).default('default'))
    .option('--ready-timeout <seconds>', 'how long each sandbox may take to be ready (default 60)', seconds)
    .option('--data-plane-workers <n>', `worker threads running the proxies of each sandbox, 1-${MAX_DATA_PLANE_WORKERS} (default: its meshbox.yaml dataPlane.workers, else one per CPU core, at most ${MAX_DATA_PLANE_WORKERS})`, (value: string) => {
      const n = Number(value);
      if (!Number.isInteger(n) || n < 1 || n > MAX_DATA_PLANE_WORKERS) throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_DATA_PLANE_WORKERS}`);
      return n;
    })
    .action((files: string[], o: ScenarioRunOptions) => run(() => runScenarioRun(files, o, io)));
  scenario
    .command('validate')
    .description('check scenario files (schema, variables, inline rules, names) and report problems with file:line:col; exit 1 on errors')
    .argument('<files...>', 'scenario files, or folders of them')
    .option('--var <name=value>', 'set a variable (repeatable)', collect)
    .option('--json', 'print the result as JSON', false)
    .action((files: string[], o: { var?: string[]; json: boolean }) => run(() => runScenarioValidate(files, o, io)));
  scenario
    .command('ls')
    .description('list the scenarios shipped with meshbox (or those of a folder) with their titles')
    .argument('[folder]', 'a folder of scenario files (default: the shipped ones)')
    .option('--json', 'print JSON', false)
    .action((folder: string | undefined, o: { json: boolean }) => run(() => runScenarioList(folder, o, io)));
  scenario
    .command('schema')
    .description('print the JSON Schema of scenario files (for editor completion)')
    .option('--write <file>', 'write it to a file instead')
    .action((o: { write?: string }) => run(async () => runScenarioSchema(o, io)));
}
