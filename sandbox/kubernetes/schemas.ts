/**
 * The part of the Kubernetes OpenAPI schema meshbox relies on when it reads Deployments,
 * StatefulSets, Services, ConfigMaps and Secrets: the types and required fields of what it uses
 * (as the API server checks them): an error here drops the object. Objects stay open: fields
 * meshbox does not read are honoured elsewhere or reported as not honoured (import-mesh.ts), and
 * the whole object is checked against the Kubernetes API's own schema (api-schemas.ts: unknown
 * fields and values a cluster rejects, as warnings), never rejected here.
 */
import type { JsonSchema } from '../config/schemas/json-schema.js';

const open = (title: string, properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({
  type: 'object',
  title,
  properties,
  ...(required.length ? { required } : {}),
});
const s: JsonSchema = { type: 'string' };
const intOrString: JsonSchema = { type: ['integer', 'string'] };
const labels: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };
const port: JsonSchema = { type: 'integer', minimum: 1, maximum: 65535 };

const metadata = open('ObjectMeta', { name: { type: 'string', minLength: 1 }, namespace: s, labels, annotations: labels }, ['name']);

const probe = open('Probe', {
  httpGet: open('HTTPGetAction', { path: s, port: intOrString }, ['port']),
  tcpSocket: open('TCPSocketAction', { port: intOrString }, ['port']),
  exec: open('ExecAction', { command: { type: 'array', items: s } }),
  periodSeconds: { type: 'integer', minimum: 1 },
  timeoutSeconds: { type: 'integer', minimum: 1 },
  failureThreshold: { type: 'integer', minimum: 1 },
  initialDelaySeconds: { type: 'integer', minimum: 0 },
});

const envVar = open(
  'EnvVar',
  {
    name: { type: 'string', minLength: 1 },
    value: s,
    valueFrom: open('EnvVarSource', {
      configMapKeyRef: open('ConfigMapKeySelector', { name: s, key: s, optional: { type: 'boolean' } }, ['key']),
      secretKeyRef: open('SecretKeySelector', { name: s, key: s, optional: { type: 'boolean' } }, ['key']),
      fieldRef: open('ObjectFieldSelector', { fieldPath: s }, ['fieldPath']),
    }),
  },
  ['name'],
);

const container = open(
  'Container',
  {
    name: { type: 'string', minLength: 1 },
    image: s,
    command: { type: 'array', items: s },
    args: { type: 'array', items: s },
    env: { type: 'array', items: envVar },
    envFrom: {
      type: 'array',
      items: open('EnvFromSource', { prefix: s, configMapRef: open('ConfigMapEnvSource', { name: s }), secretRef: open('SecretEnvSource', { name: s }) }),
    },
    ports: { type: 'array', items: open('ContainerPort', { containerPort: port, name: s, protocol: s }, ['containerPort']) },
    imagePullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] },
    readinessProbe: probe,
    livenessProbe: probe,
    startupProbe: probe,
  },
  ['name'],
);

const podTemplate = open('PodTemplateSpec', {
  metadata: open('ObjectMeta', { labels, annotations: labels }),
  spec: open('PodSpec', { containers: { type: 'array', items: container, minItems: 1 }, serviceAccountName: s }, ['containers']),
});

const workloadSpec = open(
  'DeploymentSpec',
  {
    replicas: { type: 'integer', minimum: 0 },
    selector: open('LabelSelector', { matchLabels: labels }),
    template: podTemplate,
  },
  ['selector', 'template'],
);

const typeMeta = { apiVersion: s, kind: s };

export const KUBERNETES_SCHEMAS: Record<string, JsonSchema> = {
  Deployment: open('Deployment', { ...typeMeta, metadata, spec: workloadSpec }, ['metadata', 'spec']),
  StatefulSet: open('StatefulSet', { ...typeMeta, metadata, spec: { ...workloadSpec, properties: { ...workloadSpec.properties, serviceName: s } } }, ['metadata', 'spec']),
  Service: open(
    'Service',
    {
      ...typeMeta,
      metadata,
      spec: open('ServiceSpec', {
        selector: labels,
        ports: {
          type: 'array',
          items: open('ServicePort', { port, name: s, appProtocol: s, targetPort: intOrString, protocol: { enum: ['TCP', 'UDP', 'SCTP'] } }, ['port']),
        },
      }),
    },
    ['metadata', 'spec'],
  ),
  ConfigMap: open('ConfigMap', { ...typeMeta, metadata, data: labels }, ['metadata']),
  Secret: open('Secret', { ...typeMeta, metadata, type: s, data: labels, stringData: labels }, ['metadata']),
  ServiceAccount: open('ServiceAccount', { ...typeMeta, metadata }, ['metadata']),
  Namespace: open('Namespace', { ...typeMeta, metadata }, ['metadata']),
};

/** apiVersions that serve the kinds meshbox reads */
export const KUBERNETES_API_VERSIONS: Record<string, string> = {
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  Service: 'v1',
  ConfigMap: 'v1',
  Secret: 'v1',
  ServiceAccount: 'v1',
  Namespace: 'v1',
};
