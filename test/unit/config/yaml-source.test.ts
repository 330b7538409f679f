import { describe, expect, it } from 'vitest';
import { parseYaml } from '../../../sandbox/config/yaml-source.js';
import { at, code } from './helpers.js';

describe('parseYaml', () => {
  it('reads several documents and skips empty ones', () => {
    const r = parseYaml('a: 1\n---\nb: 2\n---\n# only a comment\n---\n', 'f.yaml');
    expect(r.findings).toEqual([]);
    expect(r.documents.map((d) => d.value)).toEqual([{ a: 1 }, { b: 2 }]);
    expect(r.documents.map((d) => d.index)).toEqual([0, 1]);
    expect(r.documents[1]!.start).toEqual({ file: 'f.yaml', line: 3, col: 1 });
  });

  it('gives no document for an empty text', () => {
    expect(parseYaml('', 'f.yaml')).toEqual({ documents: [], findings: [] });
    expect(parseYaml('# nothing\n', 'f.yaml').documents).toEqual([]);
  });

  it('locates values, keys, list items, and falls back to the nearest ancestor', () => {
    const text = ['spec:', '  hosts:', '  - reviews', '  http:', '  - route:', '    - destination:', '        host: reviews', '        subset: v1', '      weight: 80'].join('\n');
    const d = parseYaml(text, 'f.yaml').documents[0]!;
    expect(d.locate(['spec', 'hosts', 0])).toMatchObject({ line: 3, col: 5 });
    expect(d.locate(['spec', 'http', 0, 'route', 0, 'destination', 'subset'])).toMatchObject({ line: 8, col: 17 });
    expect(d.locate(['spec', 'http', 0, 'route', 0, 'destination', 'subset'], { key: true })).toMatchObject({ line: 8, col: 9 });
    expect(d.locate(['spec', 'http', 0, 'route', 0, 'destination'])).toMatchObject({ line: 6, col: 7 });
    expect(d.locate(['spec', 'http', 0, 'route', 0])).toMatchObject({ line: 6, col: 7 });
    expect(d.locate(['spec', 'http', 0, 'route', 0, 'weight'])).toMatchObject({ line: 9, col: 15 });
    expect(d.locate(['spec', 'http', 0, 'route', 0, 'destination', 'port', 'number'])).toMatchObject({ line: 6, col: 7 });
    expect(d.locate(['nothing', 'here'])).toMatchObject({ line: 1, col: 1 });
    expect(d.has(['spec', 'http', 0, 'route'])).toBe(true);
    expect(d.has(['spec', 'http', 1])).toBe(false);
  });

  it('points at the key when a value is empty', () => {
    const d = parseYaml('spec:\n  host:\n', 'f.yaml').documents[0]!;
    expect(d.value).toEqual({ spec: { host: null } });
    expect(d.locate(['spec', 'host'])).toMatchObject({ line: 2, col: 3 });
  });

  it('reports a syntax error at its position and marks the document broken', () => {
    const r = parseYaml('a: 1\nb: [1, 2\nc: 3\n', 'bad.yaml');
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ severity: 'error', code: code('YAML_SYNTAX'), location: { file: 'bad.yaml', line: 3, col: 1 } });
    expect(r.findings[0]!.hint).toBeTruthy();
    expect(r.documents[0]!.broken).toBe(true);
  });

  it('reports tabs used as indentation', () => {
    const r = parseYaml('spec:\n\thost: x\n', 'f.yaml');
    expect(r.findings[0]).toMatchObject({ code: code('YAML_SYNTAX'), location: { line: 2, col: 1 } });
    expect(r.findings[0]!.hint).toContain('spaces');
  });

  it('points an unclosed quote at the string that opens it', () => {
    const r = parseYaml('a: 1\nb: "open\nc: 3\n', 'f.yaml');
    expect(r.findings[0]).toMatchObject({ code: code('YAML_SYNTAX'), location: { line: 2, col: 4 } });
    expect(r.findings[0]!.message).toContain('missing closing "');
  });

  it('reports a value with ": " that should be quoted', () => {
    const r = parseYaml('spec:\n  retryOn: a: b\n', 'f.yaml');
    expect(r.findings[0]!.code).toBe(code('YAML_SYNTAX'));
    expect(at(r.findings[0])).toBe('2:12');
  });

  it('reports duplicate keys with both places, in nested mappings too', () => {
    const r = parseYaml('spec:\n  host: a\n  subsets: []\n  host: b\n', 'f.yaml');
    expect(r.findings).toHaveLength(1);
    expect(r.findings[0]).toMatchObject({ severity: 'error', code: code('YAML_DUPLICATE_KEY'), location: { line: 4, col: 3 } });
    expect(r.findings[0]!.message).toContain('`host` appears twice');
    expect(r.findings[0]!.message).toContain('line 2, col 3');
    expect(r.documents[0]!.broken).toBe(true);
  });

  it('resolves aliases and merge keys, and reports unknown aliases', () => {
    const ok = parseYaml('base: &b {x: 1}\nuse:\n  <<: *b\n  y: 2\nref: *b\n', 'f.yaml');
    expect(ok.findings).toEqual([]);
    expect(ok.documents[0]!.value).toEqual({ base: { x: 1 }, use: { x: 1, y: 2 }, ref: { x: 1 } });
    const bad = parseYaml('a: *nothing\n', 'f.yaml');
    expect(bad.findings.some((f) => f.severity === 'error')).toBe(true);
  });

  it('keeps the file name as given', () => {
    const r = parseYaml('a: [\n', 'rules/x.yaml');
    expect(r.findings[0]!.location!.file).toBe('rules/x.yaml');
  });
});
