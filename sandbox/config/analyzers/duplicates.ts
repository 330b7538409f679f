/**
 * MB2012: the same kind/namespace/name twice. As with `kubectl apply` of both files, the later
 * definition replaces the earlier one.
 */
import type { AnalysisContext } from './context.js';
import { refName } from './context.js';
import type { Replacement } from '../resource-set.js';

export function reportDuplicates(ctx: AnalysisContext, replaced: readonly Replacement[]): void {
  for (const { earlier, later } of replaced) {
    ctx.report(
      'DUPLICATE_RESOURCE',
      later,
      ['metadata', 'name'],
      `${refName(later)} is defined twice: this definition (${later.source.file}:${later.source.line}) replaces the one at ${earlier.source.file}:${earlier.source.line}, as kubectl apply would`,
      'give the resources different names if both should apply, or remove the stale one',
    );
  }
}
