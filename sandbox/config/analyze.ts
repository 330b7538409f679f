/**
 * The analyzer: cross-resource checks on loaded rules, like `istioctl analyze`. Each finding is
 * a `warning` (the rules still apply, with Istio's run-time behaviour) with a stable meshbox
 * code, Istio's code in `istioCode` where there is one, the location of the offending field and
 * a hint. Without a mesh, checks that need the services (hosts, workloads, gateway proxy labels)
 * are skipped.
 */
import type { Finding } from './findings.js';
import type { LoadedResource } from './resource.js';
import type { MeshDefinition } from './mesh-types.js';
import { dedupeResources } from './resource-set.js';
import { createContext } from './analyzers/context.js';
import { reportDuplicates } from './analyzers/duplicates.js';
import { checkDestinationHosts } from './analyzers/destination-hosts.js';
import { checkDestinationRules } from './analyzers/destination-rules.js';
import { checkGatewayBindings } from './analyzers/gateway-bindings.js';
import { checkRouteOrder } from './analyzers/route-order.js';
import { checkVirtualServiceConflicts } from './analyzers/virtual-service-conflicts.js';
import { checkDelegates } from './analyzers/delegates.js';
import { checkPeerAuthentications } from './analyzers/peer-authentications.js';
import { checkSecurityPolicies } from './analyzers/security-policies.js';
import { checkPeerIdentityFields } from './analyzers/peer-identity-fields.js';
import { checkServiceEntries } from './analyzers/service-entries.js';
import { checkProtocolFields } from './analyzers/protocol-fields.js';

export function analyze(resources: LoadedResource[], mesh?: MeshDefinition): Finding[] {
  const findings: Finding[] = [];
  const { kept, replaced } = dedupeResources(resources);
  const ctx = createContext(kept, mesh, findings);
  reportDuplicates(ctx, replaced);
  checkDestinationHosts(ctx);
  checkDestinationRules(ctx);
  checkGatewayBindings(ctx);
  checkRouteOrder(ctx);
  checkVirtualServiceConflicts(ctx);
  checkDelegates(ctx);
  checkPeerAuthentications(ctx);
  checkSecurityPolicies(ctx);
  checkPeerIdentityFields(ctx);
  checkServiceEntries(ctx);
  checkProtocolFields(ctx);
  return findings;
}
