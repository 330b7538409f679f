/**
 * The Rules view shows "recognised, not applied" warnings through the same findings path as
 * `meshbox validate`: the sandbox validates its rules folder with validatePaths and the view
 * renders those findings (file:line:col, code, message, hint).
 */
import { describe, expect, it } from 'vitest';
import { rulesLines } from '../../../cli/tui/RulesView.js';
import type { ViewSnapshot } from '../../../cli/tui/view-store.js';
import { validatePaths } from '../../../sandbox/config/validate.js';

describe('Rules view', () => {
  it('lists every field that is accepted but not applied, with its location', async () => {
    const dir = 'test/fixtures/config/not-applied';
    const result = await validatePaths([dir]);
    const snapshot = {
      rules: { resources: [], findings: result.findings },
      sandbox: { rulesDir: dir },
      config: { snapshotVersion: 3 },
    } as unknown as ViewSnapshot;
    const text = rulesLines(snapshot, 400).map((l) => l.text);
    const notApplied = text.filter((l) => l.includes('warning MB1117'));
    expect(notApplied.length).toBe(result.findings.filter((f) => f.code === 'MB1117').length);
    expect(notApplied.length).toBeGreaterThan(20);
    expect(text).toContain(
      `  ! ${dir}/every-field.yaml:14:7: warning MB1117 [VirtualService default/shop-route]: spec.http[0].match[0].name is recognised but not applied by this meshbox version: access logs show the route name only`,
    );
    expect(text.some((l) => l.includes('every-field.yaml:126:11: warning MB1117 [Gateway default/shop-gateway]: spec.servers[0].tls.httpsRedirect is recognised but not applied'))).toBe(true);
  });
});
