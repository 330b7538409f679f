/**
 * Name and host formats of Kubernetes and Istio, each as a check returning why a value is
 * invalid (or undefined when it is fine), so messages can say what to change.
 */

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HOST_LABEL = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** DNS-1123 label: service, namespace, subset and version names (`callme-service`, `v2`). */
export function dns1123LabelProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 63) return 'it is longer than 63 characters';
  if (!LABEL.test(name)) {
    return 'use only lowercase letters, digits and `-`, starting and ending with a letter or digit';
  }
  return undefined;
}

/** DNS-1123 subdomain: resource names (`callme-service-route`, `reviews.v1`). */
export function dns1123SubdomainProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > 253) return 'it is longer than 253 characters';
  if (!name.split('.').every((part) => LABEL.test(part))) {
    return 'use only lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit';
  }
  return undefined;
}

/**
 * A host as VirtualService/DestinationRule/destination hosts take it: a DNS name, short
 * (`reviews`) or qualified (`reviews.default.svc.cluster.local`), optionally with a wildcard as
 * the left-most label (`*.example.com`), `*` alone, or an IP address.
 */
export function istioHostProblem(host: string): string | undefined {
  if (host.length === 0) return 'it is empty';
  if (host.length > 255) return 'it is longer than 255 characters';
  if (host === '*') return undefined;
  if (host.includes('/')) return 'a host cannot contain `/` (only Gateway server hosts take a `namespace/` prefix)';
  const name = host.startsWith('*.') ? host.slice(2) : host;
  const labels = name.endsWith('.') ? name.slice(0, -1).split('.') : name.split('.');
  for (const label of labels) {
    if (label === '*') return 'a wildcard `*` is only allowed as the whole left-most label (`*.example.com`)';
    if (!HOST_LABEL.test(label) || label.length > 63) {
      return `\`${label}\` is not a valid DNS label (letters, digits and \`-\`, at most 63 characters)`;
    }
  }
  return undefined;
}

/** A Gateway server host: `[namespace/]dnsName`, namespace `*`, `.` or a DNS label. */
export function gatewayHostProblem(host: string): string | undefined {
  const slash = host.indexOf('/');
  if (slash < 0) return istioHostProblem(host);
  const ns = host.slice(0, slash);
  const name = host.slice(slash + 1);
  if (ns !== '*' && ns !== '.' && dns1123LabelProblem(ns) !== undefined) {
    return `the namespace part \`${ns}\` must be \`*\`, \`.\` or a namespace name`;
  }
  return istioHostProblem(name);
}

/** A VirtualService `gateways` entry: `mesh`, `<gateway>` or `<namespace>/<gateway>`. */
export function gatewayRefProblem(ref: string): string | undefined {
  if (ref === 'mesh') return undefined;
  const parts = ref.split('/');
  if (parts.length > 2) return 'write `<gateway>` or `<namespace>/<gateway>`';
  if (parts.length === 2 && dns1123LabelProblem(parts[0]!) !== undefined) {
    return `the namespace part \`${parts[0]}\` is not a valid namespace name`;
  }
  const nameProblem = dns1123SubdomainProblem(parts[parts.length - 1]!);
  return nameProblem ? `invalid gateway name: ${nameProblem}` : undefined;
}

/** Kubernetes label key: `[prefix/]name`. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (slash >= 0 && dns1123SubdomainProblem(key.slice(0, slash)) !== undefined) {
    return `the prefix \`${key.slice(0, slash)}\` must be a DNS subdomain (\`example.com\`)`;
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return 'a label name has at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit';
  }
  return undefined;
}

/** Kubernetes label value: empty, or like a label name. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !LABEL_NAME.test(value)) {
    return 'a label value has at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit';
  }
  return undefined;
}
