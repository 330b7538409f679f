/**
 * JSON Schema of AuthorizationPolicy `spec` (istio/api security/v1 authorization_policy.proto).
 * Checks beyond the schema (path templates, CIDR blocks, condition keys, CUSTOM) are in
 * checks/authorization-policy-checks.ts.
 */
import { list, notApplied, obj, oneOfValues, str, strings } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';
import { workloadSelector } from './common.js';

const values = (d: string): JsonSchema => strings(`${d} Strings match exactly, by prefix (\`abc*\`), by suffix (\`*abc\`) or by presence (\`*\`).`, { type: 'string', minLength: 1 });

const source: JsonSchema = obj('Source', 'Where a request comes from; all fields must match, any value of a field.', {
  principals: values('Peer identities (mTLS), `<trust-domain>/ns/<ns>/sa/<sa>`.'),
  notPrincipals: values('Peer identities that must not match.'),
  requestPrincipals: values('JWT principals, `<iss>/<sub>`.'),
  notRequestPrincipals: values('JWT principals that must not match.'),
  namespaces: values('Namespaces of the peer identity (mTLS).'),
  notNamespaces: values('Namespaces that must not match.'),
  serviceAccounts: values('Service accounts of the peer identity, `<ns>/<sa>`.'),
  notServiceAccounts: values('Service accounts that must not match.'),
  ipBlocks: strings('Source addresses or CIDR blocks of the connection.'),
  notIpBlocks: strings('Source addresses or CIDR blocks that must not match.'),
  remoteIpBlocks: strings('Original client addresses (X-Forwarded-For) or CIDR blocks.'),
  notRemoteIpBlocks: strings('Original client addresses that must not match.'),
});

const operation: JsonSchema = obj('Operation', 'What a request does; all fields must match, any value of a field.', {
  hosts: values('Hosts (Host header), case-insensitive.'),
  notHosts: values('Hosts that must not match.'),
  ports: strings('Destination ports, as strings.', { type: 'string', pattern: '^[0-9]+$' }),
  notPorts: strings('Destination ports that must not match.', { type: 'string', pattern: '^[0-9]+$' }),
  methods: values('HTTP methods, e.g. `GET`.'),
  notMethods: values('HTTP methods that must not match.'),
  paths: values('Paths (no query string); `{*}` matches one segment, `{**}` the rest.'),
  notPaths: values('Paths that must not match.'),
});

const condition: JsonSchema = obj(
  'Condition',
  'An extra condition: the value of `key` must match one of `values` and none of `notValues`.',
  {
    key: str('A documented key: `request.headers[<name>]`, `request.auth.claims[<claim>]`, `source.ip`, `source.principal`, ...', { minLength: 1 }),
    values: strings('Values that match.'),
    notValues: strings('Values that must not match.'),
  },
  { required: ['key'] },
);

const rule: JsonSchema = obj('Rule', 'A request matches when any `from` AND any `to` AND every `when` match; `{}` matches every request.', {
  from: list(obj('From', 'A source.', { source }), 'Sources (any of them).'),
  to: list(obj('To', 'An operation.', { operation }), 'Operations (any of them).'),
  when: list(condition, 'Conditions (all of them).'),
});

export const authorizationPolicySpec: JsonSchema = obj('AuthorizationPolicySpec', 'Access control on workloads: ALLOW, DENY or AUDIT requests matching its rules.', {
  selector: workloadSelector,
  targetRef: notApplied({ type: 'object', description: 'A gateway or service the policy attaches to.' }, 'policies select workloads (sidecars and the ingress gateway) by `selector` only'),
  targetRefs: notApplied({ type: 'array', description: 'Gateways or services the policy attaches to.' }, 'policies select workloads (sidecars and the ingress gateway) by `selector` only'),
  action: oneOfValues(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'], 'What to do with a matching request (default ALLOW).'),
  provider: obj('ExtensionProvider', 'The external authorizer of a CUSTOM policy.', { name: str('Name of an extension provider of the mesh config.') }, { required: ['name'] }),
  rules: list(rule, 'Rules (any of them). No rules: ALLOW denies everything, DENY and AUDIT match nothing.'),
});
