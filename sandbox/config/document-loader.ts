/**
 * One YAML document of a rules file -> a validated LoadedResource (for the kinds meshbox
 * applies) and the findings about it. Pure: no disk access.
 */
import type { Finding, ResourceRef } from './findings.js';
import { makeFinding } from './codes.js';
import { DEFAULT_NAMESPACE } from './resource.js';
import type { LoadedResource } from './resource.js';
import type { ObjectMeta, SupportedKind } from './istio-types.js';
import type { YamlDocument } from './yaml-source.js';
import { classifyKind, ISTIO_KINDS } from './kinds.js';
import { closestMatch } from './did-you-mean.js';
import { resourceSchema } from './schemas/resource.js';
import { validateAgainst } from './schema-validator.js';
import { schemaErrorsToFindings } from './schema-findings.js';
import { deprecationFindings } from './deprecations.js';
import { notAppliedFindings } from './not-applied.js';
import { checkVirtualService } from './checks/virtual-service-checks.js';
import { checkDestinationRule } from './checks/destination-rule-checks.js';
import { checkGateway } from './checks/gateway-checks.js';
import { checkPeerAuthentication } from './checks/peer-authentication-checks.js';
import { checkAuthorizationPolicy } from './checks/authorization-policy-checks.js';
import { checkRequestAuthentication } from './checks/request-authentication-checks.js';
import { checkEnvoyFilter } from './checks/envoy-filter-checks.js';
import { checkServiceEntry } from './checks/service-entry-checks.js';
import { isObj, objAt, strAt } from './checks/guards.js';
import type { Locator } from './schema-findings.js';

export interface DocumentLoadResult {
  /** present for an applied kind without errors */
  resource?: LoadedResource;
  findings: Finding[];
}

const KIND_CHECKS: Record<SupportedKind, (spec: unknown, locator: Locator) => Finding[]> = {
  VirtualService: checkVirtualService,
  DestinationRule: checkDestinationRule,
  Gateway: checkGateway,
  Fault: () => [],
  PeerAuthentication: checkPeerAuthentication,
  AuthorizationPolicy: checkAuthorizationPolicy,
  RequestAuthentication: checkRequestAuthentication,
  Telemetry: () => [],
  EnvoyFilter: checkEnvoyFilter,
  ServiceEntry: checkServiceEntry,
};

const NOT_APPLIED_HINTS: Record<string, string> = {
};

const DESCRIBE_KIND_HINT = 'it stays valid for a real cluster, where it applies; meshbox ignores it';

export function loadDocument(doc: YamlDocument): DocumentLoadResult {
  if (doc.broken) return { findings: [] };
  const value = doc.value;
  const start = doc.start;
  if (!isObj(value)) {
    const what = Array.isArray(value) ? 'a list' : `a ${typeof value === 'string' ? 'string' : 'scalar'} (${JSON.stringify(value)})`;
    return {
      findings: [
        makeFinding('DOCUMENT_NOT_OBJECT', `document ${doc.index + 1} is ${what}, not a resource`, {
          hint: 'a resource is a mapping with `apiVersion`, `kind`, `metadata` and `spec`; check the indentation and the `---` separators',
          location: start,
        }),
      ],
    };
  }
  const apiVersion = value['apiVersion'];
  const kind = value['kind'];
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || apiVersion === '' || kind === '') {
    if (apiVersion === undefined && 'services' in value) {
      return {
        findings: [
          makeFinding('MESH_DOCUMENT_IN_RULES', `document ${doc.index + 1} looks like a meshbox.yaml mesh definition (it has \`services:\`), mixed with other documents`, {
            hint: 'keep the mesh definition alone in its own file (meshbox.yaml)',
            location: start,
          }),
        ],
      };
    }
    const missing = [typeof apiVersion !== 'string' || apiVersion === '' ? '`apiVersion`' : '', typeof kind !== 'string' || kind === '' ? '`kind`' : '']
      .filter(Boolean)
      .join(' and ');
    return {
      findings: [
        makeFinding('DOCUMENT_NO_KIND', `document ${doc.index + 1} has no ${missing}: meshbox cannot tell what it is`, {
          hint: 'start the document with e.g. `apiVersion: networking.istio.io/v1` and `kind: VirtualService`',
          location: start,
        }),
      ],
    };
  }

  const meta = objAt(value, 'metadata');
  const ref: ResourceRef = { kind, name: strAt(meta, 'name') ?? '(unnamed)', namespace: strAt(meta, 'namespace') ?? DEFAULT_NAMESPACE };
  const c = classifyKind(apiVersion, kind);
  const withRef = (f: Finding): Finding => ({ ...f, resource: ref });

  switch (c.class) {
    case 'bad-api-version': {
      const guess = closestMatch(apiVersion, c.expected);
      return {
        findings: [
          withRef(
            makeFinding('UNKNOWN_API_VERSION', `apiVersion ${apiVersion} does not serve kind ${kind}`, {
              hint: guess && guess !== apiVersion ? `did you mean \`${guess}\`? (${kind} is served by ${c.expected.join(', ')})` : `use ${c.expected.join(' or ')}`,
              location: doc.locate(['apiVersion']),
            }),
          ),
        ],
      };
    }
    case 'istio':
      return {
        findings: [
          withRef(
            makeFinding('KIND_NOT_APPLIED', `${kind} ${ref.namespace}/${ref.name} is recognised but not applied by this meshbox version`, {
              hint: NOT_APPLIED_HINTS[kind] ?? DESCRIBE_KIND_HINT,
              location: doc.locate(['kind']),
            }),
          ),
        ],
      };
    case 'gateway-api':
      return {
        findings: [
          withRef(
            makeFinding('KIND_NOT_APPLIED', `${kind} (${apiVersion}) is a Kubernetes Gateway API resource: recognised but not applied by this meshbox version`, {
              hint: 'meshbox applies Istio networking.istio.io Gateway and VirtualService resources',
              location: doc.locate(['kind']),
            }),
          ),
        ],
      };
    case 'kubernetes':
      return {
        findings: [
          withRef(
            makeFinding('KUBERNETES_KIND_IGNORED', `${kind} ${ref.name} ignored: meshbox reads services from meshbox.yaml`, {
              hint: 'declare services, their versions and replicas in meshbox.yaml (`services:`)',
              location: doc.locate(['kind']),
            }),
          ),
        ],
      };
    case 'unknown': {
      const guess = closestMatch(kind, ['VirtualService', 'DestinationRule', 'Gateway', ...Object.keys(ISTIO_KINDS)]);
      return {
        findings: [
          withRef(
            makeFinding('UNKNOWN_KIND', `unknown kind ${kind} (apiVersion ${apiVersion}): ignored`, {
              hint: guess ? `did you mean \`${guess}\`?` : 'meshbox applies VirtualService, DestinationRule and Gateway',
              location: doc.locate(['kind']),
            }),
          ),
        ],
      };
    }
    case 'applied':
      return loadApplied(doc, value, c.kind, apiVersion, ref);
  }
}

function loadApplied(doc: YamlDocument, value: Record<string, unknown>, kind: SupportedKind, apiVersion: string, ref: ResourceRef): DocumentLoadResult {
  const schema = resourceSchema(kind);
  const findings = [
    ...schemaErrorsToFindings(validateAgainst(schema, value), value, doc),
    ...deprecationFindings(schema, value, doc),
    ...notAppliedFindings(schema, value, doc),
    ...KIND_CHECKS[kind](value['spec'], doc),
  ].map((f) => ({ ...f, resource: ref }));
  if (findings.some((f) => f.severity === 'error')) return { findings };
  const meta = value['metadata'] as ObjectMeta;
  const metadata: ObjectMeta & { namespace: string } = { name: meta.name, namespace: meta.namespace ?? DEFAULT_NAMESPACE };
  if (meta.labels) metadata.labels = meta.labels;
  if (meta.annotations) metadata.annotations = meta.annotations;
  const resource: LoadedResource = {
    apiVersion,
    kind,
    metadata,
    spec: value['spec'],
    source: { ...doc.start, docIndex: doc.index },
    locate: (path) => doc.locate(path),
  };
  return { resource, findings };
}
