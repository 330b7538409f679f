/**
 * The RequestAuthentication walk-through of the README, through the CLI as a user runs it: a
 * copy of the sample mesh with a RequestAuthentication whose jwksUri is the sandbox's own
 * /.well-known/jwks.json and an AuthorizationPolicy requiring a request principal. No token:
 * 403; `meshbox token --expires -1h`: 401 `Jwt is expired`; `meshbox token --sub alice`: 200.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, interrupt, runCli, startCli, waitForHttp, type CliRun } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { copySampleMesh, eventually, type SampleCopy } from '../helpers/reload-fixture.js';

const HOST = { host: 'caller.example.com' };

describe('meshbox token against a running sandbox', () => {
  let copy: SampleCopy;
  let run: CliRun;
  let ingress = '';
  let admin = '';
  let env: Record<string, string> = {};

  beforeAll(async () => {
    copy = copySampleMesh();
    env = { MESHBOX_STATE_DIR: copy.stateDir };
    const [ip, ap] = [await freePort(), await freePort()];
    ingress = `http://127.0.0.1:${ip}`;
    admin = `http://127.0.0.1:${ap}`;
    run = startCli(['up', '--headless', '--runtime', 'process', '--config', copy.meshFile, '--ingress-port', String(ip), '--admin-port', String(ap), '--seed', '5', '--no-logs', '--no-access-log'], env);
    await run.waitFor('meshbox is up', 45_000);
    await waitForHttp(`${admin}/ready`);
  }, 60_000);

  afterAll(async () => {
    if (run) await interrupt(run);
    copy?.cleanup();
  });

  it('serves the local issuer JWKS; no token 403, expired 401 Jwt is expired, a minted token 200', async () => {
    const jwks = await httpGet(`${admin}/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    const printed = await runCli(['token', '--jwks'], env);
    expect(printed.code).toBe(0);
    expect(JSON.parse(jwks.body)).toEqual(JSON.parse(printed.output.split('\n')[0]!));

    writeFileSync(
      path.join(copy.rulesDir, 'caller-jwt.yaml'),
      `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: caller-jwt, namespace: default }
spec:
  selector: { matchLabels: { app: caller-service } }
  jwtRules:
    - issuer: meshbox.local
      jwksUri: ${admin}/.well-known/jwks.json
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-jwt, namespace: default }
spec:
  selector: { matchLabels: { app: caller-service } }
  rules:
    - from: [{ source: { requestPrincipals: ["*"] } }]
`,
    );
    const denied = await eventually(async () => {
      const r = await httpGet(`${ingress}/caller/ping`, HOST);
      return r.status === 403 ? r : undefined;
    }, 10_000, 'the policy to apply');
    expect(denied.body).toBe('RBAC: access denied');

    const expired = await runCli(['token', '--sub', 'alice', '--expires', '-1h'], env);
    expect(expired.code, expired.output).toBe(0);
    const r401 = await httpGet(`${ingress}/caller/ping`, { ...HOST, authorization: `Bearer ${expired.output.split('\n')[0]}` });
    expect([r401.status, r401.body]).toEqual([401, 'Jwt is expired']);
    expect(r401.headers['www-authenticate']).toBe('Bearer realm="http://caller.example.com/caller/ping", error="invalid_token"');

    const minted = await runCli(['token', '--sub', 'alice', '--aud', 'caller-service', '--claim', 'group=dev'], env);
    expect(minted.output).toContain('request principal meshbox.local/alice');
    const ok = await httpGet(`${ingress}/caller/ping`, { ...HOST, authorization: `Bearer ${minted.output.split('\n')[0]}` });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/^I'm caller-service v1\. Calling\.\.\. I'm callme-service v[12]$/);
  }, 60_000);

  it('get and describe explain the policies: which sidecars enforce them, their rule ids, where keys and tokens come from', async () => {
    const list = await runCli(['get', 'ap', '--admin', admin], env);
    expect(list.code, list.output).toBe(0);
    expect(list.output).toContain('require-jwt');
    const ap = await runCli(['describe', 'authorizationpolicy', 'require-jwt', '--admin', admin], env);
    expect(ap.code, ap.output).toBe(0);
    expect(ap.output).toContain('Enforced by: caller-service-v1-1 (inbound)');
    expect(ap.output).toContain('ns[default]-policy[require-jwt]-rule[0]: {"from":[{"source":{"requestPrincipals":["*"]}}]}');
    const ra = await runCli(['describe', 'ra', 'caller-jwt', '--admin', admin], env);
    expect(ra.output).toContain('Enforced by: caller-service-v1-1 (inbound)');
    expect(ra.output).toMatch(/\[0\] issuer meshbox\.local, principal meshbox\.local\/<sub>; audiences any; keys: jwksUri http:\/\/127\.0\.0\.1:\d+\/\.well-known\/jwks\.json/);
    expect(ra.output).toContain('token from header authorization "Bearer ", ?access_token=; removed before the app');
  }, 30_000);

  it('refuses bad input with a hint, not a stack trace', async () => {
    const noSub = await runCli(['token'], env);
    expect(noSub.code).toBe(64);
    expect(noSub.output).toContain('meshbox token needs --sub');
    const badExpiry = await runCli(['token', '--sub', 'a', '--expires', 'soon'], env);
    expect(badExpiry.code).toBe(64);
    expect(badExpiry.output).toContain('--expires soon');
    expect(badExpiry.output).not.toMatch(/\n\s+at /);
  }, 30_000);
});
