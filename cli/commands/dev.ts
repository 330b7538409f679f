/**
 * `meshbox dev`: the `skaffold dev` loop. `meshbox up` on Kubernetes manifests (`-f`, or
 * meshbox.yaml `kubernetes:`) plus: each image's build context is watched, a change rebuilds only
 * that image (its content hash decides) and rolls only the workloads that use it, with no failed
 * request; the manifests' Istio rules hot-reload; logs stream; the same terminal UI. skaffold's
 * `--port-forward` is meshbox's ingress, which is always on. On a plain meshbox.yaml it is
 * `meshbox up` (whose `watch:` and rules hot reload are the same loop).
 */
import type { Io } from '../output.js';
import { runUp, type UpOptions } from './up.js';

export function runDev(opts: UpOptions, io: Io): Promise<number> {
  return runUp({ ...opts, dev: true }, io);
}
