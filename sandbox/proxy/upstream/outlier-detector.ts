/**
 * OutlierDetector: Envoy's passive health checking (DestinationRule `outlierDetection`).
 *
 * - `consecutive5xxErrors` (0 disables): 5xx answers and local failures (connect failure, reset,
 *   timeout) in a row eject the host at once;
 * - `consecutiveGatewayErrors`: the same for 502/503/504 and local failures;
 * - an ejection lasts `baseEjectionTime` x the number of times the host was ejected (capped at
 *   300 s, Envoy's max_ejection_time); hosts return at the next `interval` sweep after that, and
 *   every sweep in which a host is in the mesh lowers its multiplier by one;
 * - at most `maxEjectionPercent` of the hosts are ejected at once, but one host always can be;
 * - `minHealthPercent` (panic threshold, 0 = off): below it, load balancing ignores health.
 * Ejections and returns are events and show in `/clusters`.
 */
import type { OutlierDetection } from '../../config/istio-types.js';
import { parseDuration } from '../../config/duration.js';
import type { Endpoint } from './endpoint.js';

export interface OutlierConfig {
  consecutive5xx: number;
  consecutiveGateway: number;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
  minHealthPercent: number;
  maxEjectionMs: number;
}

export function outlierConfig(od: OutlierDetection | undefined): OutlierConfig | undefined {
  if (!od) return undefined;
  return {
    consecutive5xx: od.consecutive5xxErrors ?? od.consecutiveErrors ?? 5,
    consecutiveGateway: od.consecutiveGatewayErrors ?? 0,
    intervalMs: od.interval ? parseDuration(od.interval) : 10_000,
    baseEjectionMs: od.baseEjectionTime ? parseDuration(od.baseEjectionTime) : 30_000,
    maxEjectionPercent: od.maxEjectionPercent ?? 10,
    minHealthPercent: od.minHealthPercent ?? 0,
    maxEjectionMs: 300_000,
  };
}

export type AttemptResult = 'success' | '5xx' | 'gateway-error' | 'local-failure';

export function classifyStatus(status: number): AttemptResult {
  if (status === 502 || status === 503 || status === 504) return 'gateway-error';
  return status >= 500 ? '5xx' : 'success';
}

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejections: number;
  ejectedUntil?: number;
}

export interface EjectionNotice {
  endpoint: string;
  ejected: boolean;
  reason?: string;
  ejectionMs?: number;
  ejections?: number;
}

export class OutlierDetector {
  private readonly state = new WeakMap<Endpoint, HostState>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    public config: OutlierConfig,
    private readonly hosts: () => readonly Endpoint[],
    private readonly notify: (n: EjectionNotice) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.sweep();
      this.schedule();
    }, this.config.intervalMs);
    this.timer.unref();
  }

  update(config: OutlierConfig): void {
    const reschedule = config.intervalMs !== this.config.intervalMs;
    this.config = config;
    if (reschedule) this.schedule();
  }

  private of(e: Endpoint): HostState {
    let s = this.state.get(e);
    if (!s) this.state.set(e, (s = { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0 }));
    return s;
  }

  isEjected(e: Endpoint): boolean {
    return this.state.get(e)?.ejectedUntil !== undefined;
  }

  ejectionsOf(e: Endpoint): number {
    return this.state.get(e)?.ejections ?? 0;
  }

  /** records one attempt's result; may eject the host at once */
  record(e: Endpoint, result: AttemptResult): void {
    const s = this.of(e);
    if (result === 'success') {
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
      return;
    }
    s.consecutive5xx++;
    if (result !== '5xx') s.consecutiveGateway++;
    if (s.ejectedUntil !== undefined) return;
    const c = this.config;
    if (c.consecutive5xx > 0 && s.consecutive5xx >= c.consecutive5xx) this.eject(e, s, `${s.consecutive5xx} consecutive 5xx`);
    else if (c.consecutiveGateway > 0 && s.consecutiveGateway >= c.consecutiveGateway) this.eject(e, s, `${s.consecutiveGateway} consecutive gateway errors`);
  }

  private eject(e: Endpoint, s: HostState, reason: string): void {
    const hosts = this.hosts();
    const ejected = hosts.filter((h) => this.isEjected(h)).length;
    const allowed = ejected === 0 || ((ejected + 1) * 100) / hosts.length <= this.config.maxEjectionPercent;
    if (!allowed) return;
    s.ejections++;
    const ms = Math.min(this.config.baseEjectionMs * s.ejections, Math.max(this.config.maxEjectionMs, this.config.baseEjectionMs));
    s.ejectedUntil = this.now() + ms;
    s.consecutive5xx = 0;
    s.consecutiveGateway = 0;
    this.notify({ endpoint: e.id, ejected: true, reason, ejectionMs: ms, ejections: s.ejections });
  }

  /** the interval sweep: ejection time over -> back; a sweep spent in the mesh lowers the multiplier */
  sweep(): void {
    const now = this.now();
    for (const h of this.hosts()) {
      const s = this.state.get(h);
      if (!s) continue;
      if (s.ejectedUntil !== undefined) {
        if (now >= s.ejectedUntil) {
          s.ejectedUntil = undefined;
          this.notify({ endpoint: h.id, ejected: false, ejections: s.ejections });
        }
      } else if (s.ejections > 0) {
        s.ejections--;
      }
    }
  }

  /** panic mode: too few hosts available, so load balancing ignores health (minHealthPercent) */
  panic(available: number, total: number): boolean {
    return this.config.minHealthPercent > 0 && total > 0 && (available * 100) / total < this.config.minHealthPercent;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
