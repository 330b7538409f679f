/**
 * Schema pieces shared by several Istio kinds (istio/api networking/v1): StringMatch, Percent,
 * PortSelector, Destination, Headers, label maps.
 */
import { exactlyOneOf, fmt, int, map, num, obj, str, strings, atMostOneOf } from './json-schema.js';
import type { JsonSchema } from './json-schema.js';

export const portNumber = (description: string): JsonSchema => int(description, 1, 65535);

const stringMatchFields = {
  exact: str('Exact string match.'),
  prefix: str('Prefix-based match (a plain string prefix: `/foo` also matches `/foobar`).'),
  regex: fmt('re2', 'RE2 regular expression that must match the whole value; a leading `(?i)` ignores case.'),
};

/** StringMatch: exactly one of exact, prefix, regex. */
export const stringMatch: JsonSchema = obj('StringMatch', 'How to match a string: exactly one of `exact`, `prefix` or `regex`.', stringMatchFields, {
  rules: [exactlyOneOf('exact', 'prefix', 'regex')],
});

/** StringMatch for header and query parameter maps, where `{}` checks presence only. */
export const presenceOrStringMatch: JsonSchema = obj(
  'StringMatch',
  'How to match a header or query parameter: one of `exact`, `prefix` or `regex`; `{}` only checks that it is present.',
  stringMatchFields,
  { rules: [atMostOneOf('exact', 'prefix', 'regex')] },
);

export const percent: JsonSchema = obj('Percent', 'A percentage in the range 0.0 to 100.0.', {
  value: num('Percentage, 0.0 to 100.0; fractions allowed (0.1 = one request in a thousand).', 0, 100),
});

export const portSelector: JsonSchema = obj('PortSelector', 'A port of the destination service.', {
  number: portNumber('Port number of the service (1-65535).'),
});

export const destination: JsonSchema = obj(
  'Destination',
  'The service (and optionally the subset and port) that traffic is sent to.',
  {
    host: fmt('istio-host', 'Name of a service from the service registry: short (`reviews`) or fully qualified (`reviews.default.svc.cluster.local`).'),
    subset: fmt('dns1123-label', 'Name of a subset defined in a DestinationRule for this host.'),
    port: portSelector,
  },
  { required: ['host'] },
);

const headerOperations: JsonSchema = obj('HeaderOperations', 'Header manipulations to apply.', {
  set: map(str('Header value.'), 'Overwrite these headers with the given values.'),
  add: map(str('Header value.'), 'Append the given values to these headers (a comma-separated list results).'),
  remove: strings('Remove these headers.'),
});

export const headers: JsonSchema = obj('Headers', 'Header manipulation rules.', {
  request: headerOperations,
  response: headerOperations,
});

export const labelMap = (description: string): JsonSchema =>
  map(fmt('label-value', 'Label value.'), description, fmt('label-key', 'Label name.'));

export const workloadSelector: JsonSchema = obj('WorkloadSelector', 'Selects workloads by their labels.', {
  matchLabels: labelMap('Labels a workload must all carry to be selected.'),
});

export const exportTo: JsonSchema = strings('Namespaces this resource is visible to: `.` (its own), `*` (all) or namespace names. Default: all.');
