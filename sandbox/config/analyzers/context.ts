/**
 * What every analyzer gets: the resources in effect (duplicates resolved), split by kind, the
 * optional mesh, and a way to report a finding at a field of a resource.
 */
import type { Finding } from '../findings.js';
import { makeFinding } from '../codes.js';
import type { FindingCodeName } from '../codes.js';
import type { DestinationRule, Gateway, LoadedResource, VirtualService } from '../resource.js';
import { isKind } from '../resource.js';
import type { MeshDefinition } from '../mesh-types.js';

export interface AnalysisContext {
  resources: LoadedResource[];
  virtualServices: VirtualService[];
  destinationRules: DestinationRule[];
  gateways: Gateway[];
  mesh?: MeshDefinition;
  report(name: FindingCodeName, resource: LoadedResource, path: ReadonlyArray<string | number>, message: string, hint?: string): void;
}

export function createContext(resources: LoadedResource[], mesh: MeshDefinition | undefined, out: Finding[]): AnalysisContext {
  const ctx: AnalysisContext = {
    resources,
    virtualServices: resources.filter((r): r is VirtualService => isKind(r, 'VirtualService')),
    destinationRules: resources.filter((r): r is DestinationRule => isKind(r, 'DestinationRule')),
    gateways: resources.filter((r): r is Gateway => isKind(r, 'Gateway')),
    report(name, resource, path, message, hint) {
      out.push(
        makeFinding(name, message, {
          location: resource.locate(path),
          resource: { kind: resource.kind, name: resource.metadata.name, namespace: resource.metadata.namespace },
          ...(hint ? { hint } : {}),
        }),
      );
    },
  };
  if (mesh) ctx.mesh = mesh;
  return ctx;
}

/** `VirtualService default/reviews` */
export function refName(r: LoadedResource): string {
  return `${r.kind} ${r.metadata.namespace}/${r.metadata.name}`;
}

export type Path = Array<string | number>;
