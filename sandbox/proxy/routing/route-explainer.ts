/**
 * The full "why" of a request, rendered when someone looks at it (the TUI's request detail),
 * never on the request path (issue #13).
 *
 * A request event carries the matched route's line and a RouteRef (which route configuration,
 * virtual host, route and match block, on which snapshot version). The reasons every earlier
 * route was skipped are produced here: the match is re-run with explanations on the route table
 * of the snapshot the request ran on (kept by the control plane for a few versions), from what
 * the event recorded (method, path, authority, port, request headers).
 */
import type { MeshSnapshot, VirtualHostConfig } from '../../control/snapshot.js';
import type { RequestEvent, RouteRef } from '../../events.js';
import type { RequestView } from './request-view.js';
import { RouteTable } from './route-table.js';

/** the snapshot of a version, when it is still kept */
export type SnapshotLookup = (version: number) => MeshSnapshot | undefined;

/** the line standing for the skipped routes when they cannot be explained one by one */
export function skippedSummary(ref: RouteRef, version: number, reason = `rules snapshot v${version} is no longer kept`): string {
  const n = ref.skipped;
  const what = ref.route < 0 ? `all ${n} route${n === 1 ? '' : 's'} of the virtual host skipped` : `${n} earlier route${n === 1 ? '' : 's'} skipped`;
  return `${what} (their match conditions did not hold; ${reason} to say why for each)`;
}

/** `e.why` with the skipped routes summed up in one line (when no snapshot is at hand) */
export function whyWithSummary(e: RequestEvent, reason?: string): readonly string[] {
  if (!e.route || e.route.skipped === 0) return e.why;
  return [skippedSummary(e.route, e.snapshotVersion, reason), ...e.why];
}

export class RouteExplainer {
  private readonly tables = new WeakMap<readonly VirtualHostConfig[], RouteTable>();
  private readonly explained = new WeakMap<RequestEvent, readonly string[]>();

  constructor(private readonly snapshotAt: SnapshotLookup) {}

  /** `e.why` with one line per route skipped before the decision, as the route table explains it */
  why(e: RequestEvent): readonly string[] {
    const ref = e.route;
    if (!ref || ref.skipped === 0) return e.why;
    const done = this.explained.get(e);
    if (done) return done;
    const out = this.render(e, ref);
    this.explained.set(e, out);
    return out;
  }

  private render(e: RequestEvent, ref: RouteRef): readonly string[] {
    const rc = this.snapshotAt(e.snapshotVersion)?.routeConfigs[ref.config];
    if (!rc) return whyWithSummary(e);
    let table = this.tables.get(rc.virtualHosts);
    if (!table) this.tables.set(rc.virtualHosts, (table = new RouteTable(rc)));
    const view: RequestView = { method: e.method, path: e.path, authority: e.authority, scheme: 'http', port: ref.port, headers: e.requestHeaders };
    const lines = table.explain(view, ref.authority);
    // the route table's last line is the decision the request recorded (its first `why` line);
    // if it is not (headers recorded differently from how they arrived), say less rather than wrong
    if (lines.length !== ref.skipped + 1 || lines[lines.length - 1] !== e.why[0]) return whyWithSummary(e, 'the recorded request no longer gives the same decision');
    return [...lines, ...e.why.slice(1)];
  }
}
