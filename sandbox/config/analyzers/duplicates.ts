/**
 * MB2012: the same kind/namespace/name twice in the rules. One resource has one definition: the
 * one later in load order (file names sorted, then document order) is in effect and the other is
 * ignored, whichever was saved last, so the warning says which one serves.
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
      `${refName(later)} is defined twice: this definition (${later.source.file}:${later.source.line}) is in effect because its file comes later in name order; the one at ${earlier.source.file}:${earlier.source.line} is ignored`,
      'keep one definition per resource: remove the stale one, or rename one of them if both should apply (`meshbox apply -f` updates a resource in the file that defines it)',
    );
  }
}
