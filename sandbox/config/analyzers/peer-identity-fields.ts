/**
 * MB2042: an AuthorizationPolicy that matches on the caller's mTLS identity (`principals`,
 * `namespaces`, `serviceAccounts`, their `not*` fields, `when` keys `source.principal` and
 * `source.namespace`) where no request has one: on a workload whose PeerAuthentication resolves
 * to DISABLE (auto mTLS then sends plaintext to it, so the peer identity is always empty) and at
 * the ingress gateway (meshbox's gateway serves plain HTTP). An ALLOW rule that needs an
 * identity then matches nothing, a DENY rule never denies, a `not*` field matches everything.
 * Like `istioctl analyze`, this warns; it does not change what applies.
 */
import type { AnalysisContext } from './context.js';
import type { LoadedResource } from '../resource.js';
import type { AuthorizationPolicySpec } from '../../security/authz-types.js';
import { ROOT_NAMESPACE, selects } from '../../security/authz-compile.js';
import { PeerAuthenticationResolver, type PeerAuthenticationPolicy, type PeerAuthenticationSpec } from '../../security/peer-authentication.js';

type AP = LoadedResource<'AuthorizationPolicy', AuthorizationPolicySpec>;

const SOURCE_FIELDS = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts'] as const;
const CONDITION_KEYS = ['source.principal', 'source.namespace'];

/** the paths (under spec) of every identity field of a policy */
function identityFields(spec: AuthorizationPolicySpec): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [];
  (spec.rules ?? []).forEach((rule, i) => {
    (rule.from ?? []).forEach((f, j) => {
      for (const k of SOURCE_FIELDS) if (f.source?.[k] !== undefined) out.push(['spec', 'rules', i, 'from', j, 'source', k]);
    });
    (rule.when ?? []).forEach((c, j) => {
      if (CONDITION_KEYS.includes(c.key)) out.push(['spec', 'rules', i, 'when', j, 'key']);
    });
  });
  return out;
}

const shown = (path: Array<string | number>): string => path.slice(1).map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').slice(1);

export function checkPeerIdentityFields(ctx: AnalysisContext): void {
  const mesh = ctx.mesh;
  if (!mesh) return;
  const resolver = new PeerAuthenticationResolver(
    ctx.resources
      .filter((r) => r.kind === 'PeerAuthentication')
      .map((r): PeerAuthenticationPolicy => ({ name: r.metadata.name, namespace: r.metadata.namespace, spec: (r.spec ?? {}) as PeerAuthenticationSpec, location: `${r.source.file}:${r.source.line}:${r.source.col}` })),
  );
  const workloads = mesh.services.flatMap((s) => s.workloads.map((w) => ({ name: w.workload, labels: w.labels, port: s.port })));
  for (const r of ctx.resources) {
    if (r.kind !== 'AuthorizationPolicy') continue;
    const ap = r as AP;
    if ((ap.spec.action ?? 'ALLOW') === 'CUSTOM') continue;
    const fields = identityFields(ap.spec);
    if (fields.length === 0) continue;
    const selected = workloads.filter((w) => selects(ap, w.labels, mesh.namespace));
    const disabled = selected.map((w) => ({ w, mtls: resolver.resolve({ namespace: mesh.namespace, labels: w.labels, port: w.port }) })).filter((x) => x.mtls.mode === 'DISABLE');
    const atGateway = selects(ap, mesh.ingress.labels, ROOT_NAMESPACE);
    const where = [...disabled.map((d) => `${d.w.name} (mTLS DISABLE by ${d.mtls.source})`), ...(atGateway ? ['the ingress gateway (plain HTTP: its clients have no mTLS identity)'] : [])];
    if (where.length === 0) continue;
    const all = where.length === selected.length + (atGateway ? 1 : 0);
    for (const path of fields) {
      ctx.report(
        'PRINCIPAL_WITHOUT_MTLS',
        ap,
        path,
        `${shown(path)} matches the caller's mTLS identity, but no request to ${where.length > 1 ? `${where.slice(0, -1).join(', ')} and ${where.at(-1)}` : where[0]} has one${all ? '' : ' (the other selected workloads are fine)'}: an ALLOW rule that needs it matches nothing there, a DENY rule never denies`,
        'match what those requests do carry (requestPrincipals with a RequestAuthentication, ipBlocks, remoteIpBlocks), or turn mTLS on for the workload (PeerAuthentication PERMISSIVE or STRICT)',
      );
    }
  }
}
