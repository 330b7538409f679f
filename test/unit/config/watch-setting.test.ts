/**
 * meshbox.yaml `watch:` (hot reload of a service's own code) and the glob patterns it uses.
 */
import { describe, expect, it } from 'vitest';
import { parseMeshText } from '../../../sandbox/config/mesh-file.js';
import { globBase, globMatcher, isGlob } from '../../../sandbox/config/glob.js';
import { isEditorTempName } from '../../../sandbox/config/watcher.js';
import { code } from './helpers.js';

const FILE = '/project/meshbox.yaml';

function service(watch: string): string {
  return `services:\n  callme-service:\n    port: 8080\n    command: node main.js\n    cwd: ./callme\n    watch:\n${watch.replace(/^/gm, '      ')}\n`;
}

describe('meshbox.yaml watch', () => {
  it('resolves paths and ignore patterns against the meshbox.yaml folder; rebuild is the default with a build', () => {
    const r = parseMeshText(service("paths: ['callme/**/*.ts', shared]\nignore: ['*.test.ts', generated/]\nbuild: npm run build"), FILE);
    expect(r.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(r.mesh!.services[0]!.watch).toEqual({
      paths: ['/project/callme/**/*.ts', '/project/shared'],
      ignore: ['/project/**/*.test.ts', '/project/generated'],
      action: 'rebuild',
      build: ['/bin/sh', '-c', 'npm run build'],
      cwd: '/project/callme',
    });
  });

  it('restart is the default without a build; an argv build is kept as is', () => {
    expect(parseMeshText(service('paths: [callme]'), FILE).mesh!.services[0]!.watch).toEqual({ paths: ['/project/callme'], ignore: [], action: 'restart', cwd: '/project/callme' });
    const w = parseMeshText(service('paths: [callme]\naction: rebuild\nbuild: [npx, tsc]'), FILE).mesh!.services[0]!.watch;
    expect(w?.build).toEqual(['npx', 'tsc']);
    // action restart never runs the build
    expect(parseMeshText(service('paths: [callme]\naction: restart\nbuild: make'), FILE).mesh!.services[0]!.watch?.build).toBeUndefined();
  });

  it('a service without watch has none', () => {
    const r = parseMeshText('services:\n  a:\n    port: 80\n    command: x\n', FILE);
    expect(r.mesh!.services[0]).not.toHaveProperty('watch');
  });

  it('rejects a bad watch with a location: unknown field, missing paths, unknown action', () => {
    const unknown = parseMeshText(service('paths: [a]\npath: [b]'), FILE);
    expect(unknown.mesh).toBeUndefined();
    expect(unknown.findings.find((f) => f.code === code('UNKNOWN_FIELD'))?.location).toMatchObject({ line: 8, col: 7 });
    const missing = parseMeshText(service('ignore: [x]'), FILE);
    expect(missing.findings.some((f) => f.code === code('MISSING_FIELD') && f.message.includes('paths'))).toBe(true);
    const action = parseMeshText(service('paths: [a]\naction: reload'), FILE);
    expect(action.findings.some((f) => f.code === code('VALUE_NOT_ALLOWED'))).toBe(true);
    const empty = parseMeshText(service('paths: []'), FILE);
    expect(empty.mesh).toBeUndefined();
  });
});

describe('glob patterns', () => {
  it('** spans folders, * and ? stay within one', () => {
    const m = globMatcher(['/p/callme/**/*.ts']);
    expect(m('/p/callme/routes.ts')).toBe(true);
    expect(m('/p/callme/lib/deep/x.ts')).toBe(true);
    expect(m('/p/callme/routes.js')).toBe(false);
    expect(m('/p/callmex/routes.ts')).toBe(false);
    const q = globMatcher(['/p/v?.txt']);
    expect(q('/p/v1.txt')).toBe(true);
    expect(q('/p/v10.txt')).toBe(false);
  });

  it('{a,b} alternatives and [..] classes', () => {
    const m = globMatcher(['/p/src/*.{ts,tsx}', '/p/[ab]x', '/p/[!ab]y']);
    expect(m('/p/src/a.ts')).toBe(true);
    expect(m('/p/src/a.tsx')).toBe(true);
    expect(m('/p/src/a.css')).toBe(false);
    expect(m('/p/ax')).toBe(true);
    expect(m('/p/cx')).toBe(false);
    expect(m('/p/cy')).toBe(true);
    expect(m('/p/ay')).toBe(false);
  });

  it('a plain path is a file or everything below a folder; orAncestor matches inside matched folders', () => {
    const m = globMatcher(['/p/lib']);
    expect(m('/p/lib')).toBe(true);
    expect(m('/p/lib/a/b.ts')).toBe(true);
    expect(m('/p/library.ts')).toBe(false);
    const ignore = globMatcher(['/p/**/node_modules', '/p/**/*.test.ts'], { orAncestor: true });
    expect(ignore('/p/node_modules/x/index.js')).toBe(true);
    expect(ignore('/p/a/node_modules/y.js')).toBe(true);
    expect(ignore('/p/a/b.test.ts')).toBe(true);
    expect(ignore('/p/a/b.ts')).toBe(false);
  });

  it('globBase is the folder to watch', () => {
    expect(globBase('/p/callme/**/*.ts')).toBe('/p/callme');
    expect(globBase('/p/callme/main.ts')).toBe('/p/callme/main.ts');
    expect(globBase('/**/*.ts')).toBe('/');
    expect(isGlob('/p/a{b,c}')).toBe(true);
    expect(isGlob('/p/a.b')).toBe(false);
  });

  it('editor temp files are recognised', () => {
    for (const n of ['.routes.ts.swp', 'routes.ts~', '#routes.ts#', '.#routes.ts', '4913', 'routes.ts.tmp', 'routes.ts___jb_tmp___']) expect(isEditorTempName(n)).toBe(true);
    for (const n of ['routes.ts', 'main.js', 'meshbox.yaml']) expect(isEditorTempName(n)).toBe(false);
  });
});
