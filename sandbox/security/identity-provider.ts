/**
 * The sandbox's identity provider (istiod's CA + the SDS agents, in one): loads or creates the
 * root CA under the state directory, issues every proxy (sidecars and the ingress gateway) its
 * workload certificate, rotates them, and pushes the secrets to the data plane.
 */
import path from 'node:path';
import type { Instance } from '../control/registry.js';
import { GATEWAY_ID, gatewayMeta, workloadIdentity } from '../control/compiler.js';
import type { MeshDefinition } from '../config/mesh-types.js';
import { MeshCA } from './ca.js';
import { WorkloadCertManager, type WorkloadRef } from './cert-manager.js';
import type { ProxySecret } from './tls-secrets.js';

export interface IdentityProviderOptions {
  /** folder of the root CA (`<state>/ca`) */
  caDir: string;
  /** workload certificate lifetime (default 24 h; MESHBOX_WORKLOAD_CERT_TTL) */
  ttlMs?: number;
  push(secrets: ProxySecret[]): Promise<void>;
  notice(level: 'info' | 'warn' | 'error', message: string, hint?: string): void;
}

export class IdentityProvider {
  private constructor(
    readonly ca: MeshCA,
    readonly certs: WorkloadCertManager,
  ) {}

  static async start(opts: IdentityProviderOptions): Promise<IdentityProvider> {
    const loaded = await MeshCA.loadOrCreate(opts.caDir);
    if (loaded.regenerated) {
      opts.notice(
        'warn',
        `the sandbox CA could not be used (${loaded.regenerated}): a new root CA was created in ${opts.caDir}`,
        `workload certificates are issued by the new root; re-trust ${path.join(opts.caDir, 'root-cert.pem')} where you trusted the old one`,
      );
    }
    // a first start creates the root silently: README "Security" says where it lives, `meshbox certs` shows it
    const certs = new WorkloadCertManager({
      ca: loaded.ca,
      ttlMs: opts.ttlMs,
      push: opts.push,
      onError: (proxyId, err) => opts.notice('error', `workload certificate of ${proxyId} not rotated: ${err.message}`, 'meshbox retries at the next rotation time'),
    });
    return new IdentityProvider(loaded.ca, certs);
  }

  /** every proxy of the sandbox: the gateway and each instance's sidecar */
  static workloads(mesh: MeshDefinition, instances: readonly Instance[]): WorkloadRef[] {
    return [
      { proxyId: GATEWAY_ID, identity: gatewayMeta(mesh).identity! },
      ...instances.map((i) => ({ proxyId: i.id, identity: workloadIdentity(i.workload, mesh.namespace, mesh.trustDomain) })),
    ];
  }

  ensure(mesh: MeshDefinition, instances: readonly Instance[]): Promise<void> {
    return this.certs.ensure(IdentityProvider.workloads(mesh, instances));
  }

  close(): void {
    this.certs.close();
  }
}

/** `MESHBOX_WORKLOAD_CERT_TTL` (a duration in seconds or `30s`, `5m`, `24h`) or undefined */
export function workloadCertTtlFromEnv(value = process.env.MESHBOX_WORKLOAD_CERT_TTL): number | undefined {
  if (!value) return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000);
}
