/**
 * Workload certificates and their rotation, as Istio's SDS agent does it: every proxy gets a
 * short-lived certificate (default 24 h, `workloadCertTtl`) for its SPIFFE id, signed by the
 * sandbox CA, and a fresh one once half its lifetime is gone (Istio's SECRET_GRACE_PERIOD_RATIO
 * 0.5), long before it expires. Each issue or rotation pushes the whole secret set to the data
 * plane, where new connections take the new certificate and open ones finish on the old.
 */
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { MeshCA } from './ca.js';
import type { ProxySecret } from './tls-secrets.js';

export const DEFAULT_WORKLOAD_CERT_TTL_MS = 24 * 3600 * 1000;
export const GRACE_PERIOD_RATIO = 0.5;

export interface WorkloadCertOptions {
  ca: MeshCA;
  ttlMs?: number;
  graceRatio?: number;
  clock?: Clock;
  /** receives the whole set after every issue or rotation */
  push(secrets: ProxySecret[]): Promise<void> | void;
  /** a rotation that failed (it is retried) */
  onError?(proxyId: string, err: Error): void;
  /** a certificate was issued (`rotated` for a replacement) */
  onIssued?(secret: ProxySecret, rotated: boolean): void;
}

export interface WorkloadRef {
  proxyId: string;
  identity: string;
}

interface Held {
  ref: WorkloadRef;
  secret: ProxySecret;
  timer?: unknown;
  rotations: number;
}

export class WorkloadCertManager {
  private readonly held = new Map<string, Held>();
  private readonly ttlMs: number;
  private readonly grace: number;
  private readonly clock: Clock;
  private closed = false;
  private pushing: Promise<void> = Promise.resolve();

  constructor(private readonly opts: WorkloadCertOptions) {
    this.ttlMs = opts.ttlMs ?? DEFAULT_WORKLOAD_CERT_TTL_MS;
    this.grace = opts.graceRatio ?? GRACE_PERIOD_RATIO;
    this.clock = opts.clock ?? systemClock;
  }

  private ensuring: Promise<void> = Promise.resolve();

  /** issues certificates for workloads that have none (or whose identity changed), drops the others; then pushes (calls run one after another) */
  ensure(refs: readonly WorkloadRef[]): Promise<void> {
    const run = this.ensuring.then(() => this.ensureNow(refs));
    this.ensuring = run.catch(() => undefined);
    return run;
  }

  private async ensureNow(refs: readonly WorkloadRef[]): Promise<void> {
    const wanted = new Map(refs.map((r) => [r.proxyId, r]));
    let changed = false;
    for (const [id, h] of this.held) {
      if (wanted.get(id)?.identity === h.ref.identity) continue;
      this.stopTimer(h);
      this.held.delete(id);
      changed = true;
    }
    await Promise.all(
      [...wanted.values()]
        .filter((r) => !this.held.has(r.proxyId))
        .map(async (r) => {
          const secret = await this.issue(r);
          const h: Held = { ref: r, secret, rotations: 0 };
          this.held.set(r.proxyId, h);
          this.schedule(h);
          this.opts.onIssued?.(secret, false);
          changed = true;
        }),
    );
    if (changed) await this.push();
  }

  /** the certificates held now */
  secrets(): ProxySecret[] {
    return [...this.held.values()].map((h) => h.secret);
  }

  rotations(proxyId: string): number {
    return this.held.get(proxyId)?.rotations ?? 0;
  }

  /** when the certificate of `proxyId` is replaced next (epoch ms) */
  nextRotation(proxyId: string): number | undefined {
    const h = this.held.get(proxyId);
    return h ? this.rotationAt(h.secret) : undefined;
  }

  /** replaces a certificate now (also used by the timer) */
  async rotate(proxyId: string): Promise<void> {
    const h = this.held.get(proxyId);
    if (!h || this.closed) return;
    this.stopTimer(h);
    try {
      const secret = await this.issue(h.ref);
      if (this.held.get(proxyId) !== h || this.closed) return;
      h.secret = secret;
      h.rotations++;
      this.opts.onIssued?.(secret, true);
      await this.push();
    } catch (e) {
      this.opts.onError?.(proxyId, e as Error);
    } finally {
      if (this.held.get(proxyId) === h) this.schedule(h);
    }
  }

  close(): void {
    this.closed = true;
    for (const h of this.held.values()) this.stopTimer(h);
  }

  private rotationAt(s: ProxySecret): number {
    const from = Date.parse(s.notBefore);
    const to = Date.parse(s.notAfter);
    return from + (to - from) * (1 - this.grace);
  }

  private schedule(h: Held): void {
    if (this.closed) return;
    const delay = Math.max(0, this.rotationAt(h.secret) - this.clock.now());
    const t = this.clock.setTimeout(() => void this.rotate(h.ref.proxyId), delay);
    t.unref?.();
    h.timer = t;
  }

  private stopTimer(h: Held): void {
    if (h.timer) this.clock.clearTimeout(h.timer as never);
    h.timer = undefined;
  }

  private async issue(r: WorkloadRef): Promise<ProxySecret> {
    const c = await this.opts.ca.issue(r.identity, this.ttlMs, new Date(this.clock.now()));
    return {
      proxyId: r.proxyId,
      identity: r.identity,
      certChainPem: c.certChainPem,
      keyPem: c.keyPem,
      rootCertPem: this.opts.ca.rootCertPem,
      serial: c.serial,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
    };
  }

  /** pushes serialised: the data plane always ends with the newest set */
  private push(): Promise<void> {
    this.pushing = this.pushing.then(() => this.opts.push(this.secrets())).catch((e: Error) => this.opts.onError?.('*', e));
    return this.pushing;
  }
}
