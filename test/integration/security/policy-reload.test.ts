/**
 * Security policies in a watched rules folder: a save applies them at once, deleting the file
 * restores the old behaviour, a malformed policy is rejected with file:line:col before anything
 * applies, and an unreachable jwksUri is a warning notice, never a crash.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validatePaths } from '../../../sandbox/config/validate.js';
import { RulesReloader } from '../../../sandbox/control/rules-reloader.js';
import type { EventOf, MeshEventType } from '../../../sandbox/events.js';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

const ROUTES = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: backend }
spec:
  host: backend
  subsets:
    - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: backend }
spec:
  hosts: [backend]
  http:
    - route: [{ destination: { host: backend, subset: v2 } }]
`;

const ALLOW_V1_ONLY = `apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata:
  name: allow-v1-only
  namespace: default
spec:
  selector:
    matchLabels: { app: backend, version: v2 }
  action: ALLOW
  rules:
    - to:
        - operation:
            methods: [POST]
`;

let h: Harness;
let dir: string;
let reloader: RulesReloader;
const client = 'client-v1-1';
const file = (name: string): string => path.join(dir, name);

function next<T extends MeshEventType>(type: T, pred: (e: EventOf<T>) => boolean = () => true, ms = 5000): Promise<EventOf<T>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} within ${ms}ms`));
    }, ms);
    const off = h.bus.on(type, (e) => {
      if (!pred(e)) return;
      clearTimeout(timer);
      off();
      resolve(e);
    });
  });
}

const get = async (): Promise<number> => (await h.request({ from: client, host: 'backend:8080', path: '/callme/ping' })).status;

beforeAll(async () => {
  h = await startHarness([
    { name: 'client', versions: { v1: 1 } },
    { name: 'backend', versions: { v1: 1, v2: 1 } },
  ]);
  dir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-security-rules-'));
  writeFileSync(file('10-routes.yaml'), ROUTES);
  const initial = await validatePaths([dir], { mesh: h.mesh });
  await h.controlPlane.setResources(initial.resources, []);
  reloader = new RulesReloader({ bus: h.bus, controlPlane: h.controlPlane, mesh: () => h.mesh, onFindings: () => undefined });
  reloader.adopt(dir, initial);
  await reloader.start();
});

afterAll(async () => {
  await reloader?.close();
  await h?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('security policies in the rules folder', () => {
  it('allow-v1-only applies on save (GET to v2 403, POST 200) and deleting the file restores the old behaviour', async () => {
    expect(await get()).toBe(200);
    let applied = next('mesh:config:applied');
    writeFileSync(file('20-allow-v1-only.yaml'), ALLOW_V1_ONLY);
    expect((await applied).changed).toEqual(['added AuthorizationPolicy/default/allow-v1-only']);
    const denied = await h.request({ from: client, host: 'backend:8080', path: '/callme/ping' });
    expect([denied.status, denied.body]).toEqual([403, 'RBAC: access denied']);
    expect((await h.request({ from: client, host: 'backend:8080', path: '/callme/ping', method: 'POST', body: 'x' })).status).toBe(200);

    applied = next('mesh:config:applied');
    unlinkSync(file('20-allow-v1-only.yaml'));
    await applied;
    expect(await get()).toBe(200);
  });

  it('a malformed policy is rejected with file:line:col and nothing of it applies', async () => {
    const rejected = next('mesh:config:rejected');
    writeFileSync(file('30-bad.yaml'), ALLOW_V1_ONLY.replace('methods: [POST]', 'methods: [POST]\n            paths: ["/a/{**}/b"]').replace('action: ALLOW', 'action: ALOW'));
    const e = await rejected;
    expect(e.findings.map((f) => [f.code, f.location?.line, f.location?.col])).toEqual([
      ['MB1103', 9, 11],
      ['MB1140', 14, 21],
    ]);
    await reloader.idle();
    expect(await get()).toBe(200);
    unlinkSync(file('30-bad.yaml'));
    await new Promise((r) => setTimeout(r, 250));
    await reloader.idle();
  });

  it('an unreachable jwksUri is a warning notice at apply time; requests without a token still pass', async () => {
    const notice = next('mesh:notice', (n) => n.level === 'warn' && n.message.includes('jwksUri'));
    writeFileSync(
      file('40-jwt.yaml'),
      `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt }
spec:
  selector: { matchLabels: { app: backend } }
  jwtRules:
    - issuer: https://idp.invalid
      jwksUri: http://127.0.0.1:9/jwks.json
      timeout: 1s
`,
    );
    const n = await notice;
    expect(n.message).toMatch(/40-jwt\.yaml:8:16: spec\.jwtRules\[0\]\.jwksUri: fetching http:\/\/127\.0\.0\.1:9\/jwks\.json failed: connect ECONNREFUSED 127\.0\.0\.1:9: tokens of issuer https:\/\/idp\.invalid get 401/);
    expect(await get()).toBe(200);
  });
});
