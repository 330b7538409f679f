/**
 * The terminal UI's built-in load: an open-loop LoadGenerator against the ingress gateway, with
 * the Host header of the first Gateway-bound host, started, re-rated and stopped from the
 * keyboard. A run is bounded (the generator requires it) by a day, far beyond any session.
 */
import { LoadGenerator } from '../../sandbox/chaos/load-generator.js';
import type { LoadControl, LoadStatus, LoadTarget } from './controller.js';

const SESSION_MS = 24 * 3600 * 1000;

export class IngressLoad implements LoadControl {
  private generator: LoadGenerator | undefined;
  private current: { rate: number; host: string; path: string } | undefined;
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
    const next = new LoadGenerator({
      url: `${target.baseUrl}${path.startsWith('/') ? path : `/${path}`}`,
      headers: { Host: target.host },
      rate: options.rate,
      // enough sockets for ~1 s of latency at the chosen rate, within reason
      connections: Math.min(256, Math.max(8, Math.ceil(options.rate / 20))),
      durationMs: SESSION_MS,
      timeoutMs: 15_000,
    });
    const previous = this.generator;
    this.generator = next;
    this.current = { rate: options.rate, host: target.host, path };
    void previous?.stop();
    void next.start();
  }

  async stop(): Promise<void> {
    const g = this.generator;
    if (!g) return;
    this.last = this.status();
    this.generator = undefined;
    await g.stop();
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
