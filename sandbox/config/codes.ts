/**
 * The stable codes of every finding meshbox's configuration loader and analyzer produce.
 *
 * - MB10xx: files and documents (YAML syntax, kinds, apiVersions)
 * - MB11xx: schema and field validation of Istio resources (what the API server would reject)
 * - MB20xx: analyzer warnings (what `istioctl analyze` would flag; `istioCode` carries Istio's code)
 * - MB30xx: meshbox.yaml
 * - MB40xx: Kubernetes manifests read by `meshbox up -f` and written by `meshbox export --k8s`
 *
 * Codes never change meaning once released; new situations get new codes.
 */
import type { Finding, Severity } from './findings.js';

export interface FindingCodeInfo {
  code: string;
  severity: Severity;
  /** the matching `istioctl analyze` code, when there is one */
  istioCode?: string;
  /** one line for the documentation table */
  title: string;
}

export const FINDING_CODES = {
  YAML_SYNTAX: { code: 'MB1001', severity: 'error', title: 'YAML syntax error' },
  YAML_DUPLICATE_KEY: { code: 'MB1002', severity: 'error', title: 'the same key appears twice in one mapping' },
  DOCUMENT_NOT_OBJECT: { code: 'MB1003', severity: 'error', title: 'a YAML document is not a mapping (a bare string or a list)' },
  DOCUMENT_NO_KIND: { code: 'MB1004', severity: 'error', title: 'a document has no apiVersion or no kind' },
  UNKNOWN_API_VERSION: { code: 'MB1005', severity: 'error', title: 'a known kind with an apiVersion that does not serve it' },
  UNKNOWN_KIND: { code: 'MB1006', severity: 'warning', title: 'a kind meshbox does not know: ignored' },
  KIND_NOT_APPLIED: { code: 'MB1007', severity: 'warning', title: 'an Istio kind recognised but not applied by this meshbox version' },
  KUBERNETES_KIND_IGNORED: { code: 'MB1008', severity: 'info', title: 'a Kubernetes kind (Deployment, Service, ...): meshbox reads services from meshbox.yaml' },
  PATH_NOT_FOUND: { code: 'MB1009', severity: 'error', title: 'a rules file or folder does not exist' },
  FILE_UNREADABLE: { code: 'MB1010', severity: 'error', title: 'a file or folder cannot be read' },
  YAML_ALIAS: { code: 'MB1011', severity: 'error', title: 'a YAML alias cannot be resolved' },
  FILE_EMPTY: { code: 'MB1012', severity: 'info', title: 'a rules file holds no document' },
  FOLDER_EMPTY: { code: 'MB1013', severity: 'info', title: 'a rules folder holds no *.yaml or *.yml file' },
  MESH_DOCUMENT_IN_RULES: { code: 'MB1014', severity: 'error', title: 'a meshbox.yaml document inside a multi-document rules file' },
  NOTHING_TO_VALIDATE: { code: 'MB1015', severity: 'error', title: '`meshbox validate` found no *.yaml or *.yml file at all under the paths it was given' },

  UNKNOWN_FIELD: { code: 'MB1100', severity: 'error', title: 'unknown field (with a did-you-mean hint)' },
  WRONG_TYPE: { code: 'MB1101', severity: 'error', title: 'a value of the wrong type (string for integer, list for mapping, ...)' },
  MISSING_FIELD: { code: 'MB1102', severity: 'error', title: 'a required field is missing' },
  VALUE_NOT_ALLOWED: { code: 'MB1103', severity: 'error', title: 'a value outside the allowed set (enum)' },
  OUT_OF_RANGE: { code: 'MB1104', severity: 'error', title: 'a number outside its range (weight, percentage, status code, port, ...)' },
  CONFLICTING_FIELDS: { code: 'MB1105', severity: 'error', title: 'fields that exclude each other are set together (oneof)' },
  MISSING_ONE_OF: { code: 'MB1106', severity: 'error', title: 'none of a set of alternative fields is set' },
  INVALID_DURATION: { code: 'MB1107', severity: 'error', title: 'an invalid or too short duration' },
  INVALID_REGEX: { code: 'MB1108', severity: 'error', title: 'a regular expression that does not compile or uses what RE2 lacks' },
  EMPTY_VALUE: { code: 'MB1109', severity: 'error', title: 'an empty list, mapping or string where content is required (e.g. `match: [{}]`)' },
  INVALID_NAME: { code: 'MB1110', severity: 'error', title: 'an invalid name, host or reference format (DNS-1123, ...)' },
  DEPRECATED_FIELD: { code: 'MB1111', severity: 'warning', title: 'a deprecated field or value: still accepted' },
  INVALID_RETRY_ON: { code: 'MB1112', severity: 'error', title: 'an unknown `retryOn` policy' },
  DELEGATE_RULES: { code: 'MB1113', severity: 'error', title: 'a delegate VirtualService (no hosts) that uses what delegates cannot' },
  DUPLICATE_SUBSET: { code: 'MB1114', severity: 'error', title: 'two subsets with the same name in one DestinationRule' },
  DUPLICATE_PORT_NAME: { code: 'MB1115', severity: 'error', title: 'two Gateway servers with the same port name' },
  GATEWAY_TLS_REQUIRED: { code: 'MB1116', severity: 'error', title: 'an HTTPS or TLS Gateway server without `tls` settings' },
  FIELD_NOT_APPLIED: { code: 'MB1117', severity: 'warning', title: 'a valid field or value this meshbox version recognises but does not apply (delegate, Gateway tls, tcp/tls routes, ...)' },
  ENVOY_CONFIG_REJECTED: { code: 'MB1119', severity: 'warning', title: 'an EnvoyFilter patch whose Envoy configuration Envoy rejects (NACK), e.g. a local rate limit with a zero token bucket: not applied' },
  UNSUPPORTED_VALUE: { code: 'MB1118', severity: 'error', title: 'a value Istio itself rejects (exponentialDelay, targetPort on a Gateway)' },
  INVALID_PATH_TEMPLATE: { code: 'MB1140', severity: 'error', title: 'an AuthorizationPolicy path template Istio rejects (`{*}`/`{**}` not a whole segment, `{**}` not last)' },
  INVALID_IP_BLOCK: { code: 'MB1141', severity: 'error', title: 'an AuthorizationPolicy address or CIDR block that is neither' },
  INVALID_JWKS: { code: 'MB1142', severity: 'error', title: 'a RequestAuthentication inline `jwks` that is not a JSON Web Key Set of public keys' },
  UNKNOWN_CONDITION_KEY: { code: 'MB1143', severity: 'warning', title: 'an AuthorizationPolicy `when` key Istio does not document: ignored' },
  INVALID_JWKS_URI: { code: 'MB1144', severity: 'error', title: 'a RequestAuthentication `jwksUri` that is not an http(s) URL' },
  INVALID_POLICY: { code: 'MB1145', severity: 'error', title: 'an AuthorizationPolicy Istio rejects (a condition with no values, a provider without CUSTOM, CUSTOM without provider)' },
  INVALID_SERVICE_ENTRY: { code: 'MB1146', severity: 'error', title: 'a ServiceEntry Istio rejects (STATIC without endpoints or with non-IP ones, NONE with endpoints, DNS for a wildcard host without endpoints, an unknown port protocol)' },
  SCHEMA_VIOLATION: { code: 'MB1199', severity: 'error', title: 'any other schema violation' },

  HOST_NOT_FOUND: { code: 'MB2001', severity: 'warning', istioCode: 'IST0101', title: 'a destination host that is not a service of the mesh' },
  SUBSET_NOT_FOUND: { code: 'MB2002', severity: 'warning', istioCode: 'IST0101', title: 'a destination subset that no DestinationRule defines for its host' },
  SUBSET_NO_WORKLOADS: { code: 'MB2003', severity: 'warning', istioCode: 'IST0127', title: 'a DestinationRule subset whose labels select no workload' },
  DESTINATION_RULE_HOST_NOT_FOUND: { code: 'MB2004', severity: 'warning', istioCode: 'IST0101', title: 'a DestinationRule for a host that is not a service of the mesh' },
  GATEWAY_NOT_FOUND: { code: 'MB2005', severity: 'warning', istioCode: 'IST0101', title: 'a VirtualService bound to a Gateway that does not exist' },
  HOST_NOT_IN_GATEWAY: { code: 'MB2006', severity: 'warning', istioCode: 'IST0132', title: 'a VirtualService host that its Gateway servers do not cover' },
  UNREACHABLE_ROUTE: { code: 'MB2007', severity: 'warning', istioCode: 'IST0130', title: 'an HTTP route after a catch-all route: never used' },
  INEFFECTIVE_MATCH: { code: 'MB2008', severity: 'warning', istioCode: 'IST0131', title: 'a match block identical to an earlier one: never used' },
  CONFLICTING_VIRTUAL_SERVICES: { code: 'MB2009', severity: 'warning', istioCode: 'IST0109', title: 'two VirtualServices for the same host and gateway: the first wins' },
  CONFLICTING_DESTINATION_RULES: { code: 'MB2010', severity: 'warning', title: 'two DestinationRules for the same host: merged as Istio does' },
  ZERO_TOTAL_WEIGHT: { code: 'MB2011', severity: 'warning', title: 'route destinations whose weights are all 0' },
  DUPLICATE_RESOURCE: { code: 'MB2012', severity: 'warning', title: 'the same kind/namespace/name defined twice: the one later in file-name order is in effect, the other ignored' },
  DELEGATE_UNUSED: { code: 'MB2013', severity: 'warning', title: 'a VirtualService without hosts that no VirtualService delegates to' },
  DELEGATE_NOT_FOUND: { code: 'MB2014', severity: 'warning', istioCode: 'IST0101', title: 'a `delegate` naming a VirtualService that does not exist or has hosts' },
  POLICY_NO_WORKLOADS: { code: 'MB2040', severity: 'warning', istioCode: 'IST0127', title: 'a RequestAuthentication or AuthorizationPolicy whose selector matches no workload' },
  PRINCIPAL_WITHOUT_MTLS: { code: 'MB2042', severity: 'warning', title: 'an AuthorizationPolicy matching on the peer identity (principals, namespaces, serviceAccounts, source.principal, source.namespace) of a workload with mTLS disabled, or at the plain-HTTP ingress gateway: no request carries one' },
  JWKS_URI_UNREACHABLE: { code: 'MB2041', severity: 'warning', title: 'a jwtRule whose jwksUri does not answer with a JWKS: its tokens get 401 `Jwks remote fetch is failed`' },
  GATEWAY_SELECTOR_NO_MATCH: { code: 'MB2015', severity: 'warning', istioCode: 'IST0101', title: "a Gateway whose selector matches no gateway proxy (meshbox's ingress labels)" },
  CONFLICTING_SERVICE_ENTRIES: { code: 'MB2017', severity: 'warning', title: 'a ServiceEntry host that another ServiceEntry or a mesh service already declares: the first one is used' },
  PEER_AUTHENTICATION_NO_WORKLOADS: { code: 'MB2016', severity: 'warning', istioCode: 'IST0127', title: 'a PeerAuthentication whose selector matches no workload of the mesh' },
  PROTOCOL_MISMATCH: { code: 'MB2017', severity: 'warning', title: 'a protocol-specific field on a port of another protocol (a `tcp` route on an HTTP port, an `http` match on a TCP port, h2UpgradePolicy on a TCP service): it never applies' },

  MESH_NOT_FOUND: { code: 'MB3001', severity: 'error', title: 'meshbox.yaml does not exist (MESH_ERR_CONFIG_NOT_FOUND)' },
  MESH_UNREADABLE: { code: 'MB3002', severity: 'error', title: 'meshbox.yaml cannot be read or holds no mapping' },
  MESH_NO_START: { code: 'MB3003', severity: 'error', title: 'a service (or version) with neither `command` nor `image`/`build`' },
  MESH_RESERVED_LABEL: { code: 'MB3004', severity: 'error', title: 'a label meshbox sets itself (`app`, `version`) in `labels`' },
  MESH_DUPLICATE_WORKLOAD: { code: 'MB3005', severity: 'error', title: 'two versions that end up with the same workload name' },
  MESH_RUNTIME_CANNOT_RUN: { code: 'MB3006', severity: 'error', title: 'a service the chosen runtime cannot run (`build:`/`image:` only with the process runtime, ...)' },
  MESH_DUPLICATE_PORT: { code: 'MB3007', severity: 'error', title: 'two `ports` of a service with the same number, name or `PORT_<NAME>` variable' },
  MESH_UNNAMED_PORT: { code: 'MB3008', severity: 'error', title: 'a service with several `ports` one of which has no `name` (Kubernetes requires names then)' },

  K8S_NOT_HONOURED: { code: 'MB4001', severity: 'warning', title: 'a Kubernetes field meshbox cannot honour on one machine (volumes, node selectors, init containers, resources, ...): reported, ignored' },
  K8S_SELECTOR_MISMATCH: { code: 'MB4002', severity: 'error', title: "a Deployment or StatefulSet whose selector does not match its pod template's labels" },
  K8S_SERVICE_SELECTS_NOTHING: { code: 'MB4003', severity: 'warning', title: 'a Service whose selector matches no Deployment or StatefulSet' },
  K8S_DUPLICATE_PORT: { code: 'MB4004', severity: 'error', title: 'two Service ports with the same port number, or two Services on the same pods and port' },
  K8S_IMAGE_NOT_RUNNABLE: { code: 'MB4005', severity: 'error', title: 'an image that is neither in the local Docker store nor buildable (skaffold.yaml, Dockerfile folder), nor given a command for the process runtime' },
  K8S_UNSUPPORTED_BUILDER: { code: 'MB4006', severity: 'error', title: 'a skaffold.yaml artifact with a builder meshbox does not run (jib, buildpacks, ko, bazel, custom)' },
  K8S_REFERENCE_NOT_FOUND: { code: 'MB4007', severity: 'error', title: 'a ConfigMap, Secret or key named by env/envFrom that no manifest defines' },
  K8S_WORKLOAD_NO_SERVICE: { code: 'MB4008', severity: 'warning', title: 'a Deployment or StatefulSet that no Service selects: not started (meshbox addresses workloads through their Service)' },
  K8S_KUSTOMIZE: { code: 'MB4009', severity: 'error', title: 'a kustomization.yaml resource that does not exist or cannot be read' },
  K8S_EXPORT_NOTE: { code: 'MB4010', severity: 'info', title: '`meshbox export --k8s`: a meshbox-only setting left out of (or mapped into) the Kubernetes project' },
  K8S_API_SCHEMA: { code: 'MB4011', severity: 'warning', title: "a field the Kubernetes API's schema does not define there, or a value it rejects, in a part meshbox does not use: ignored by meshbox, rejected by `kubectl apply`" },
} as const satisfies Record<string, FindingCodeInfo>;

export type FindingCodeName = keyof typeof FINDING_CODES;

/** Builds a finding with the severity, code and Istio code of `name`. */
export function makeFinding(
  name: FindingCodeName,
  message: string,
  extra: Omit<Finding, 'severity' | 'code' | 'message' | 'istioCode'> & { severity?: Finding['severity'] } = {},
): Finding {
  const info: FindingCodeInfo = FINDING_CODES[name];
  const f: Finding = { severity: extra.severity ?? info.severity, code: info.code, message };
  if (info.istioCode) f.istioCode = info.istioCode;
  if (extra.hint) f.hint = extra.hint;
  if (extra.location) f.location = extra.location;
  if (extra.resource) f.resource = extra.resource;
  return f;
}
