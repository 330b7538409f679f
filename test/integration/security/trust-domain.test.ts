/**
 * The mesh's trust domain (meshbox.yaml `trustDomain`, `trustDomainAliases`: Istio's MeshConfig)
 * on real sockets with mTLS: workload identities are spiffe://<trustDomain>/ns/<ns>/sa/<sa>, and
 * AuthorizationPolicy principals written for `cluster.local` (the local trust domain) or for an
 * alias match them, as Istio's trust domain migration does; another trust domain does not.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../helpers/mesh-harness.js';

let h: Harness;
let caDir: string;
const client = 'client-v1-1';

beforeAll(async () => {
  caDir = mkdtempSync(path.join(os.tmpdir(), 'meshbox-td-'));
  h = await startHarness(
    [
      { name: 'client', versions: { v1: 1 } },
      { name: 'backend', versions: { v1: 1 } },
    ],
    1,
    { mtls: { caDir }, mesh: { trustDomain: 'example.org', trustDomainAliases: ['old.example'] } },
  );
});
afterAll(async () => {
  await h?.close();
  rmSync(caDir, { recursive: true, force: true });
});

const allowFrom = (source: string, extra = ''): string => `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: from-client, namespace: default }
spec:
  selector: { matchLabels: { app: backend } }
  rules:
    - from: [{ source: ${source} }]
${extra}`;

describe('trust domain', () => {
  it('workload identities carry the mesh trust domain (certificates, XFCC, metrics)', async () => {
    const r = await h.request({ from: client, host: 'backend', headers: { 'x-request-id': 'td-id' } });
    expect(r.status).toBe(200);
    const xfcc = String((r.json()['headers'] as Record<string, string>)['x-forwarded-client-cert']);
    expect(xfcc).toMatch(/^By=spiffe:\/\/example\.org\/ns\/default\/sa\/backend;Hash=[0-9a-f]{64};Subject="";URI=spiffe:\/\/example\.org\/ns\/default\/sa\/client$/);
    const dest = (await h.eventsFor('td-id', 2)).find((e) => e.reporter === 'destination')!;
    expect(dest.source.principal).toBe('spiffe://example.org/ns/default/sa/client');
    expect(await h.metrics.text()).toMatch(/source_principal="spiffe:\/\/example\.org\/ns\/default\/sa\/client"/);
  });

  it('principals of cluster.local (the local trust domain) and of an alias match; another trust domain does not', async () => {
    await h.rules(allowFrom('{ principals: ["cluster.local/ns/default/sa/client"] }'));
    expect((await h.request({ from: client, host: 'backend' })).status).toBe(200);
    await h.rules(allowFrom('{ principals: ["old.example/ns/default/sa/client"] }'));
    expect((await h.request({ from: client, host: 'backend' })).status).toBe(200);
    await h.rules(allowFrom('{ principals: ["example.org/ns/default/sa/client"] }'));
    expect((await h.request({ from: client, host: 'backend' })).status).toBe(200);
    await h.rules(allowFrom('{ principals: ["elsewhere.example/ns/default/sa/client"] }'));
    const denied = await h.request({ from: client, host: 'backend', headers: { 'x-request-id': 'td-other' } });
    expect([denied.status, denied.body]).toEqual([403, 'RBAC: access denied']);
    const why = (await h.eventsFor('td-other', 2)).find((e) => e.reporter === 'destination')!.why.join('\n');
    expect(why).toContain('source principal "example.org/ns/default/sa/client" does not match ["elsewhere.example/ns/default/sa/client"]');
    // a wildcard trust domain is not enforced: matched as written
    await h.rules(allowFrom('{ principals: ["*/ns/default/sa/client"] }'));
    expect((await h.request({ from: client, host: 'backend' })).status).toBe(200);
  });

  it('notPrincipals and source.principal conditions read the aliases too; namespaces ignore the trust domain', async () => {
    await h.rules(`
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-client, namespace: default }
spec:
  selector: { matchLabels: { app: backend } }
  action: DENY
  rules:
    - when: [{ key: source.principal, values: ["cluster.local/ns/default/sa/client"] }]
`);
    expect((await h.request({ from: client, host: 'backend' })).status).toBe(403);
    await h.rules(allowFrom('{ notPrincipals: ["old.example/ns/default/sa/client"] }'));
    expect((await h.request({ from: client, host: 'backend' })).status).toBe(403);
    await h.rules(allowFrom('{ namespaces: ["default"] }'));
    expect((await h.request({ from: client, host: 'backend' })).status).toBe(200);
  });
});
