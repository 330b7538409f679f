/**
 * The assertion registry, keyed by `type`. Built-in types are registered here; more can be added
 * with `registerAssertion` (before scenarios are loaded, so the schema knows them).
 */
import type { AssertionSpec } from '../scenario-types.js';
import type { AssertionType } from './assertion-type.js';
import { attempts } from './attempts.js';
import { ejections } from './ejections.js';
import { errorRate } from './error-rate.js';
import { healthy } from './healthy.js';
import { latency } from './latency.js';
import { mtls } from './mtls.js';
import { requestCount } from './requests.js';
import { share } from './share.js';
import { successRate } from './success-rate.js';
import { traces } from './traces.js';
import { tcpConnections } from './tcp-connections.js';

export type { AssertionType, Measurement, MeasureInput } from './assertion-type.js';

const registry = new Map<string, AssertionType>();

export function registerAssertion<C extends AssertionSpec>(type: AssertionType<C>): void {
  registry.set(type.type, type as unknown as AssertionType);
}

export function assertionType(name: string): AssertionType | undefined {
  return registry.get(name);
}

export function assertionTypes(): AssertionType[] {
  return [...registry.values()];
}

for (const t of [successRate, errorRate, latency, share, attempts, ejections, requestCount, healthy, traces, mtls, tcpConnections] as Array<AssertionType<never>>) {
  registerAssertion(t as unknown as AssertionType);
}
