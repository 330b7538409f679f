/**
 * AuthorizationPolicy rules beyond the schema, as Istio's validation enforces them: path
 * templates, addresses and CIDR blocks, conditions with values, `provider` only with CUSTOM;
 * CUSTOM itself is valid and recognised but not applied (meshbox has no external authorizer);
 * a `when` key Istio does not document is a warning (ignored, as Istio's proxy ignores it).
 */
import type { Finding } from '../findings.js';
import { makeFinding } from '../codes.js';
import type { Locator } from '../schema-findings.js';
import { notAppliedFinding } from '../not-applied.js';
import { isObj, listAt, objAt, strAt } from './guards.js';
import { conditionKeyKind, CONDITION_KEYS, ipBlock, isIpConditionKey, pathTemplateError } from '../../security/authz-matcher.js';

const IP_FIELDS = ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks'];
const PATH_FIELDS = ['paths', 'notPaths'];

export function checkAuthorizationPolicy(spec: unknown, locator: Locator): Finding[] {
  const out: Finding[] = [];
  if (!isObj(spec)) return out;
  const action = strAt(spec, 'action') ?? 'ALLOW';
  if (action === 'CUSTOM') {
    out.push(notAppliedFinding(['spec', 'action'], 'meshbox has no external authorizer: the policy is not enforced, requests it would deny are allowed', locator, 'CUSTOM'));
    if (!objAt(spec, 'provider')) {
      out.push(makeFinding('INVALID_POLICY', 'spec.action: CUSTOM needs `provider.name`', { hint: 'name the extension provider of the mesh config that decides', location: locator.locate(['spec', 'action']) }));
    }
  } else if (objAt(spec, 'provider')) {
    out.push(makeFinding('INVALID_POLICY', `spec.provider: only a CUSTOM policy has a provider (action is ${action})`, { hint: 'remove `provider`, or set `action: CUSTOM`', location: locator.locate(['spec', 'provider']) }));
  }
  listAt(spec, 'rules').forEach((rule, i) => {
    const base = ['spec', 'rules', i];
    listAt(rule, 'from').forEach((from, j) => {
      const src = objAt(from, 'source');
      for (const f of IP_FIELDS) checkIps(listAt(src, f), [...base, 'from', j, 'source', f], locator, out);
    });
    listAt(rule, 'to').forEach((to, j) => {
      const op = objAt(to, 'operation');
      for (const f of PATH_FIELDS) {
        listAt(op, f).forEach((p, k) => {
          if (typeof p !== 'string') return;
          const err = pathTemplateError(p);
          if (err) out.push(makeFinding('INVALID_PATH_TEMPLATE', `${[...base, 'to', j, 'operation', f].join('.').replace(/\.(\d+)/g, '[$1]')}[${k}]: ${JSON.stringify(p)}: ${err}`, { hint: 'write `/api/{*}/items` (one segment) or `/api/{**}` (the rest of the path)', location: locator.locate([...base, 'to', j, 'operation', f, k]) }));
        });
      }
    });
    listAt(rule, 'when').forEach((c, j) => {
      const path = [...base, 'when', j];
      const key = strAt(c, 'key');
      if (key === undefined) return;
      if (!isObj(c) || (!Array.isArray(c['values']) && !Array.isArray(c['notValues']))) {
        out.push(makeFinding('INVALID_POLICY', `spec.rules[${i}].when[${j}]: condition \`${key}\` has neither \`values\` nor \`notValues\``, { hint: 'add the values the key must (or must not) have', location: locator.locate(path) }));
      }
      const kind = conditionKeyKind(key);
      if (kind === 'unknown') {
        out.push(makeFinding('UNKNOWN_CONDITION_KEY', `spec.rules[${i}].when[${j}].key: \`${key}\` is not a documented condition key: the condition is ignored`, { hint: `use one of ${CONDITION_KEYS.join(', ')}`, location: locator.locate([...path, 'key']) }));
      }
      if (isIpConditionKey(key)) {
        checkIps(listAt(c, 'values'), [...path, 'values'], locator, out);
        checkIps(listAt(c, 'notValues'), [...path, 'notValues'], locator, out);
      }
    });
  });
  return out;
}

function checkIps(values: unknown[], path: Array<string | number>, locator: Locator, out: Finding[]): void {
  values.forEach((v, k) => {
    if (typeof v !== 'string' || ipBlock(v)) return;
    out.push(makeFinding('INVALID_IP_BLOCK', `${path.join('.').replace(/\.(\d+)/g, '[$1]')}[${k}]: ${JSON.stringify(v)} is neither an IP address nor a CIDR block`, { hint: 'write e.g. `10.0.0.0/8`, `192.168.1.7` or `::1/128`', location: locator.locate([...path, k]) }));
  });
}
