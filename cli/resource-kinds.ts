/**
 * The kinds `meshbox get|describe|delete` know, with kubectl's names for them: plural, singular,
 * short name (`vs`, `dr`, `gw`, `svc`, `po`, `deploy`), case-insensitive, and `kind.group`
 * (`virtualservices.networking.istio.io`). Anything else gets a did-you-mean.
 */
import { closestMatch } from '../sandbox/config/did-you-mean.js';
import { MeshError } from '../sandbox/errors.js';

export interface KindInfo {
  /** canonical name, as the admin API's /objects/<kind> takes it */
  plural: string;
  singular: string;
  kind: string;
  /** `kubectl get -o name` prefix */
  resource: string;
  aliases: readonly string[];
  /** a rule from the rules folder (can be deleted) */
  rule: boolean;
}

export const KINDS: readonly KindInfo[] = [
  { plural: 'services', singular: 'service', kind: 'Service', resource: 'service', aliases: ['svc'], rule: false },
  { plural: 'workloads', singular: 'workload', kind: 'Workload', resource: 'workload.meshbox.dev', aliases: ['deploy', 'deployment', 'deployments', 'wl'], rule: false },
  { plural: 'pods', singular: 'pod', kind: 'Pod', resource: 'pod', aliases: ['po', 'instances', 'instance'], rule: false },
  { plural: 'virtualservices', singular: 'virtualservice', kind: 'VirtualService', resource: 'virtualservice.networking.istio.io', aliases: ['vs'], rule: true },
  { plural: 'destinationrules', singular: 'destinationrule', kind: 'DestinationRule', resource: 'destinationrule.networking.istio.io', aliases: ['dr'], rule: true },
  { plural: 'gateways', singular: 'gateway', kind: 'Gateway', resource: 'gateway.networking.istio.io', aliases: ['gw'], rule: true },
  { plural: 'faults', singular: 'fault', kind: 'Fault', resource: 'fault.meshbox.dev', aliases: [], rule: true },
  { plural: 'authorizationpolicies', singular: 'authorizationpolicy', kind: 'AuthorizationPolicy', resource: 'authorizationpolicy.security.istio.io', aliases: ['ap'], rule: true },
  { plural: 'requestauthentications', singular: 'requestauthentication', kind: 'RequestAuthentication', resource: 'requestauthentication.security.istio.io', aliases: ['ra'], rule: true },
];

function namesOf(k: KindInfo): string[] {
  const group = k.resource.includes('.') ? k.resource.slice(k.resource.indexOf('.')) : '';
  return [k.plural, k.singular, k.kind.toLowerCase(), ...k.aliases, ...(group ? [`${k.plural}${group}`, `${k.singular}${group}`] : [])];
}

export function resolveKind(word: string): KindInfo {
  const w = word.toLowerCase();
  const found = KINDS.find((k) => namesOf(k).includes(w));
  if (found) return found;
  const near = closestMatch(w, KINDS.flatMap((k) => [k.plural, k.singular]));
  throw new MeshError('MESH_ERR_USAGE', [`unknown resource type "${word}"`], {
    hint: `${near ? `did you mean \`${near}\`? ` : ''}use one of ${KINDS.map((k) => `${k.plural}${k.aliases.length ? ` (${k.aliases[0]})` : ''}`).join(', ')}`,
  });
}

/** `kind/name` (kubectl's `vs/callme-service-route`) or `kind` + `name` */
export function splitKindName(first: string, second: string | undefined): { kind: KindInfo; name: string | undefined } {
  if (second === undefined && first.includes('/')) {
    const [k, n] = first.split('/', 2) as [string, string];
    return { kind: resolveKind(k), name: n };
  }
  return { kind: resolveKind(first), name: second };
}
