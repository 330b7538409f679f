import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatFinding, type Finding } from '../../../sandbox/config/findings.js';
import { loadScenarioFile, parseScenarioText } from '../../../sandbox/chaos/scenario-loader.js';
import { parseVarAssignment } from '../../../sandbox/chaos/scenario-vars.js';

const FILE = 'scenarios/test.yaml';

function parse(text: string, vars = {}) {
  return parseScenarioText(text, FILE, { vars, baseDir: process.cwd() });
}

function where(f: Finding): string {
  return f.location ? `${f.location.line}:${f.location.col}` : '-';
}

function errors(text: string, vars = {}): string[] {
  return parse(text, vars).findings.map((f) => `${where(f)} ${f.code} ${f.message}`);
}

const MINIMAL = `
title: Minimal
method:
  - type: wait
    duration: 10ms
`;

describe('scenario loader: valid scenarios', () => {
  it('reads the model: title, tags, seed, steps with locations, defaults', () => {
    const r = parse(`
title: Canary
description: the split holds
tags: [routing]
seed: 42
steadyState:
  title: it answers
  probes:
    - { type: probe, path: /caller/ping }
method:
  - type: load
    name: split
    rate: 50
    duration: 2s
    path: /caller/ping
  - type: expect
    assertions:
      - { type: share, service: callme-service, subset: v2, equals: 80, tolerance: 5 }
rollbacks:
  - { type: remove-fault, all: true }
`);
    expect(r.findings).toEqual([]);
    const s = r.scenario!;
    expect(s).toMatchObject({ id: 'test', title: 'Canary', description: 'the split holds', tags: ['routing'], seed: 42, continueOnFailure: false });
    expect(s.steadyState?.title).toBe('it answers');
    expect(s.steadyState?.probes.map((p) => p.spec.type)).toEqual(['probe']);
    expect(s.method.map((m) => [m.spec.type, m.phase, m.index, m.location?.line, m.location?.col])).toEqual([
      ['load', 'method', 0, 11, 5],
      ['expect', 'method', 1, 16, 5],
    ]);
    expect(s.rollbacks[0]!.spec).toEqual({ type: 'remove-fault', all: true });
    expect(s.location).toEqual({ file: FILE, line: 2, col: 1 });
  });

  it('substitutes ${var}: whole values keep their type, parts become text, --var overrides, $${ is literal', () => {
    const r = parse(
      `
title: Vars \${rate} rps
vars: { rate: 10, path: /caller/ping, on: true }
method:
  - type: load
    rate: \${rate}
    duration: 1s
    path: \${path}
    background: \${on}
    headers: { x-note: 'cost $\${rate}' }
`,
      { rate: 25 },
    );
    expect(r.findings).toEqual([]);
    expect(r.scenario!.title).toBe('Vars 25 rps');
    expect(r.scenario!.vars).toEqual({ rate: 25, path: '/caller/ping', on: true });
    expect(r.scenario!.method[0]!.spec).toMatchObject({ rate: 25, path: '/caller/ping', background: true, headers: { 'x-note': 'cost ${rate}' } });
  });

  it('parses --var name=value as numbers, booleans or text, and refuses bad ones', () => {
    expect(parseVarAssignment('rate=50')).toEqual(['rate', 50]);
    expect(parseVarAssignment('on=false')).toEqual(['on', false]);
    expect(parseVarAssignment('host=a=b')).toEqual(['host', 'a=b']);
    expect(parseVarAssignment('x=')).toEqual(['x', '']);
    expect(() => parseVarAssignment('rate')).toThrow(/not name=value/);
    expect(() => parseVarAssignment('1x=2')).toThrow(/not a variable name/);
  });

  it('resolves mesh paths against the scenario folder', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mbx-scn-'));
    writeFileSync(path.join(dir, 'meshbox.yaml'), 'services: {}\n');
    const file = path.join(dir, 'x.yaml');
    const r = parseScenarioText(`title: x\nmesh: { config: ./meshbox.yaml, host: a.example.com }\nmethod: [{ type: wait, duration: 1ms }]\n`, file);
    expect(r.findings).toEqual([]);
    expect(r.scenario!.mesh).toEqual({ config: path.join(dir, 'meshbox.yaml'), host: 'a.example.com' });
    expect(r.scenario!.baseDir).toBe(dir);
  });
});

describe('scenario loader: malformed scenarios are rejected with file:line:col', () => {
  it('YAML syntax errors, with a hint for ${var} inside a flow mapping', () => {
    const r = parse(`title: x\nvars: { n: 1 }\nmethod:\n  - { type: expect, assertions: [{ type: requests, min: \${n} }] }\n`);
    expect(r.scenario).toBeUndefined();
    expect(r.findings[0]!.code).toBe('MB1001');
    expect(r.findings[0]!.location?.line).toBe(4);
    expect(r.findings[0]!.hint).toMatch(/quote a `\$\{variable\}`/);
  });

  it('unknown fields with did-you-mean, wrong types, unknown step types, one-of rules', () => {
    const out = errors(`
title: Broken
seed: fourty-two
method:
  - type: lod
    rate: 5
  - type: load
    rat: 10
    duration: 2
  - type: fault
    target: { service: callme-service }
`);
    expect(out).toEqual([
      '3:7 MB1101 seed must be an integer, got "fourty-two" (a string)',
      expect.stringMatching(/^5:11 MB1103 method\[0\]\.type must be one of .*got "lod"/),
      '7:5 MB1106 method[1] needs one of `rate` or `concurrency`',
      '8:5 MB1100 method[1]: unknown field `rat`',
      '9:15 MB1101 method[1].duration must be a string, got 2 (an integer)',
      '10:5 MB1106 method[2] needs at least one of `http` or `toxics`',
    ]);
    const f = parse(`title: x\nmethod:\n  - { type: load, rat: 1, rate: 1, duration: 1s }\n`).findings[0]!;
    expect(f.hint).toBe('did you mean `rate`?');
    const lod = parse(`title: x\nmethod:\n  - { type: lod }\n`).findings[0]!;
    expect(lod.hint).toBe('did you mean `load`?');
    expect(parse(`title: x\nmethod:\n  - { type: wait, duration: 2 }\n`).findings[0]!.hint).toMatch(/a duration needs a unit, e.g. `2s`/);
  });

  it('assertion fields are checked per type: tolerances, durations, exactly-one-of', () => {
    const out = errors(`
title: x
method:
  - type: expect
    assertions:
      - { type: share, subset: v2, version: v2, equals: 80 }
      - { type: latency, percentile: 50, max: 10 parsecs }
      - { type: success-rate }
      - { type: success-rate, min: 90, tolerance: 5 }
      - { type: healthy, service: callme-service, equals: 2, window: { last: 1s } }
      - { type: nonsense, min: 1 }
`);
    expect(out).toEqual([
      expect.stringMatching(/^6:36 MB1105 method\[0\]\.assertions\[0\]: `subset` and `version` cannot be used together/),
      expect.stringMatching(/^7:47 MB1107 method\[0\]\.assertions\[1\]\.max "10 parsecs" is not a valid duration/),
      expect.stringMatching(/^8:9 MB1106 method\[0\]\.assertions\[2\] needs at least one of `min`, `max` or `equals`/),
      expect.stringMatching(/^9:9 MB1102 method\[0\]\.assertions\[3\]: missing required field `equals`/),
      expect.stringMatching(/^10:62 MB1100 method\[0\]\.assertions\[4\]: unknown field `window`/),
      expect.stringMatching(/^11:17 MB1103 method\[0\]\.assertions\[5\]\.type must be one of/),
    ]);
  });

  it('unknown variables, once, with a did-you-mean', () => {
    const r = parse(`title: x\nvars: { rate: 10 }\nmethod:\n  - type: load\n    rate: \${rat}\n    duration: 1s\n`);
    expect(r.findings.map((f) => `${where(f)} ${f.code} ${f.message}`)).toEqual(['5:11 MB4002 ${rat} names no variable (variables: rate)']);
    expect(r.findings[0]!.hint).toBe('did you mean `${rate}`?');
  });

  it('inline rules are validated like a rules file, located inside the scenario', () => {
    const r = parse(`
title: x
method:
  - type: rules
    apply:
      - apiVersion: networking.istio.io/v1
        kind: VirtualService
        metadata: { name: x }
        spec:
          hosts: [callme-service]
          http:
            - route:
                - destination: { host: callme-service }
                  wieght: 10
`);
    expect(r.findings.map(formatFinding)).toEqual([
      expect.stringMatching(/^scenarios\/test\.yaml:14:19: error MB1100 \[VirtualService default\/x\]: spec\.http\[0\]\.route\[0\]: unknown field `wieght`\n {4}hint: did you mean `weight`\?$/),
    ]);
  });

  it('a rules file that does not exist, or holds errors', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mbx-scn-'));
    writeFileSync(path.join(dir, 'bad.yaml'), 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: d }\nspec: { hots: x }\n');
    const file = path.join(dir, 's.yaml');
    const r = parseScenarioText(`title: x\nmethod:\n  - { type: rules, file: missing.yaml }\n  - { type: rules, file: bad.yaml }\n`, file);
    expect(r.findings.map((f) => `${f.location?.file === file ? 'scenario' : path.basename(f.location?.file ?? '')}:${where(f)} ${f.code}`)).toEqual(['scenario:3:26 MB4003', 'bad.yaml:4:1 MB1102', 'bad.yaml:4:9 MB1100']);
  });

  it('names: windows and stop-load must name an earlier load or step; step names are unique', () => {
    const out = errors(`
title: x
method:
  - { type: expect, window: { load: later }, assertions: [{ type: requests, min: 1 }] }
  - { type: load, name: later, rate: 1, duration: 1s }
  - { type: stop-load, load: nope }
  - { type: wait, name: later, duration: 1ms }
  - { type: expect, assertions: [{ type: requests, min: 1, window: { since: ghost } }] }
`);
    expect(out).toEqual([
      '4:37 MB4004 no load named "later" runs before this step',
      '6:30 MB4004 no load named "nope" runs before this step',
      '7:25 MB4005 step name "later" is used twice (first at line 5)',
      '8:77 MB4004 no step named "ghost" runs before this step',
    ]);
  });

  it('connect: a status for a connection expected reset or closed is refused (it gets no answer)', () => {
    expect(errors(`
title: x
method:
  - { type: connect, inbound: callme-service, expect: { connection: reset, status: 200 } }
  - { type: connect, inbound: callme-service, expect: { connection: answered, status: 200 } }
  - { type: connect, inbound: callme-service, expect: { connection: dropped } }
`)).toEqual([
      '6:69 MB1103 method[2].expect.connection must be one of `answered`, `reset` or `closed`, got "dropped" (a string)',
      '4:76 MB4008 expect.status does not apply to a connection expected reset: it gets no answer',
    ]);
  });

  it('attached scenarios refuse what the metrics cannot tell, and rules', () => {
    const out = errors(`
title: x
mesh: { attach: 'http://127.0.0.1:15000' }
method:
  - { type: rules, remove: [{ kind: VirtualService, name: v }] }
  - type: expect
    assertions:
      - { type: attempts, service: callme-service, max: 2 }
      - { type: share, service: callme-service, subset: v2, min: 1 }
      - { type: share, service: callme-service, version: v2, min: 1 }
      - { type: success-rate, path: /caller, min: 1 }
      - { type: mtls, service: callme-service, min: 100 }
      - { type: mtls, service: callme-service, reporter: destination, min: 100 }
`);
    expect(out).toEqual([
      '5:13 MB4006 a `rules` step needs a sandbox the scenario starts: an attached sandbox takes its rules from its rules folder',
      '8:11 MB4006 the number of attempts per request is not available when attached to a running sandbox',
      '9:49 MB4006 the subset a request was routed to is not available when attached to a running sandbox',
      '11:31 MB4006 the path of a request is not available when attached to a running sandbox',
      "12:11 MB4006 the calling side's connection security (its metrics say `unknown`; use `reporter: destination`) is not available when attached to a running sandbox",
    ]);
    expect(errors(`title: x\nmesh: { attach: 'http://127.0.0.1:1', config: ./m.yaml }\nmethod: [{ type: wait, duration: 1ms }]\n`)[0]).toMatch(/MB1105 mesh: `config` cannot be used together with `attach`/);
  });

  it('not exactly one document, not a mapping, a missing file', async () => {
    expect(errors('')).toEqual([`1:1 MB4001 ${FILE} holds no scenario`]);
    expect(errors(`${MINIMAL}---\n${MINIMAL}`)).toEqual([`8:1 MB4001 ${FILE} holds 2 YAML documents; a scenario file holds one`]);
    expect(errors('- a\n- b\n')[0]).toMatch(/^1:1 MB1003 a scenario is a mapping/);
    expect(errors('title: x\n')).toEqual(['1:1 MB1102 (document): missing required field `method`']);
    const missing = await loadScenarioFile('scenarios/does-not-exist.yaml');
    expect(missing.findings[0]).toMatchObject({ code: 'MB4003', message: 'scenario file scenarios/does-not-exist.yaml does not exist' });
  });
});
