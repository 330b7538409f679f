/**
 * The terminal UI's built-in load: an open-loop LoadGenerator against the ingress gateway, with
 * the Host header of the first Gateway-bound host, started, re-rated and stopped from the
 * keyboard. A run is bounded (the generator requires it) by a day, far beyond any session.
 *
 * A rate change (`+`/`-`) re-paces the running generator: requests in flight finish, so no hop
 * shows a downstream reset and the success rate does not dip. A new path starts a new generator
 * and lets the old one's requests finish. Stopping lets requests in flight finish for up to
 * STOP_GRACE_MS (quitting passes 0: everything is going down anyway).
 */
import { LoadGenerator } from '../../sandbox/chaos/load-generator.js';
import type { LoadControl, LoadStatus, LoadTarget } from './controller.js';

const SESSION_MS = 24 * 3600 * 1000;
const TIMEOUT_MS = 15_000;
/** how long a stop waits for the requests in flight before cancelling them */
export const STOP_GRACE_MS = 2000;

/** enough sockets for ~1 s of latency at the chosen rate, within reason */
const connectionsFor = (rate: number): number => Math.min(256, Math.max(8, Math.ceil(rate / 20)));

export class IngressLoad implements LoadControl {
  private generator: LoadGenerator | undefined;
  private current: { rate: number; host: string; path: string } | undefined;
  private currentUrl: string | undefined;
  private last: LoadStatus | undefined;

  /** `target` is read at each start: the ingress URL and rules are known only once the sandbox is up */
  constructor(private readonly resolveTarget: () => LoadTarget | undefined) {}

  target(): LoadTarget | undefined {
    return this.resolveTarget();
  }

  start(options: { rate: number; path?: string }): void {
    const target = this.resolveTarget();
    if (!target) throw new Error('no Gateway-bound host to send load to: bind a VirtualService to a Gateway');
    const path = options.path ?? this.current?.path ?? target.path;
    const url = `${target.baseUrl}${path.startsWith('/') ? path : `/${path}`}`;
    const running = this.generator;
    if (running && this.current && this.currentUrl === url && this.current.host === target.host) {
      // same target: a new pace from the next request on, requests in flight untouched
      running.setRate(options.rate, connectionsFor(options.rate));
      this.current = { ...this.current, rate: options.rate };
      return;
    }
    const next = new LoadGenerator({
      url,
      headers: { Host: target.host },
      rate: options.rate,
      connections: connectionsFor(options.rate),
      durationMs: SESSION_MS,
      timeoutMs: TIMEOUT_MS,
    });
    this.generator = next;
    this.currentUrl = url;
    this.current = { rate: options.rate, host: target.host, path };
    // the old run's requests finish (each is bounded by its timeout)
    void running?.stop({ graceMs: TIMEOUT_MS });
    void next.start();
  }

  /** stops sending; requests in flight get `graceMs` to finish (default STOP_GRACE_MS) */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    const g = this.generator;
    if (!g) return;
    this.last = this.status();
    this.generator = undefined;
    const result = await g.stop({ graceMs: options.graceMs ?? STOP_GRACE_MS });
    if (this.last) this.last = { ...this.last, sent: result.sent, completed: result.completed, errors: result.errors };
    if (this.last) this.last = { ...this.last, running: false, achievedRps: 0 };
  }

  status(): LoadStatus | undefined {
    const g = this.generator;
    if (!g || !this.current) return this.last;
    const s = g.stats();
    const statusClasses: Record<string, number> = {};
    for (const [code, n] of Object.entries(s.statusCounts)) {
      const cls = `${code[0]}xx`;
      statusClasses[cls] = (statusClasses[cls] ?? 0) + n;
    }
    for (const [code, n] of Object.entries(s.errorCounts)) statusClasses[code] = (statusClasses[code] ?? 0) + n;
    return {
      running: true,
      rate: this.current.rate,
      host: this.current.host,
      path: this.current.path,
      sent: s.sent,
      completed: s.completed,
      errors: s.errors,
      achievedRps: s.recent.completedPerSecond,
      p50: s.recent.latencyMs.count > 0 ? s.recent.latencyMs.p50 : undefined,
      p99: s.recent.latencyMs.count > 0 ? s.recent.latencyMs.p99 : undefined,
      statusClasses,
    };
  }
}
