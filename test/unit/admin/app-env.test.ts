/** An app's environment never carries the admin token a user set for the CLI. */
import { describe, expect, it } from 'vitest';
import type { MeshDefinition } from '../../../sandbox/config/mesh-types.js';
import type { Instance } from '../../../sandbox/control/registry.js';
import { instanceEnv } from '../../../sandbox/runtime/contract.js';

describe('the environment of an app', () => {
  it('inherits the user environment except MESHBOX_ADMIN_TOKEN', () => {
    const mesh = { namespace: 'default', services: [] } as unknown as MeshDefinition;
    const inst = { id: 'a-v1-1', ordinal: 1, appPort: 1234, sidecar: { inbound: 1, outbound: 2, services: {} }, workload: { service: 'a', version: 'v1', workload: 'a-v1', env: {} } } as unknown as Instance;
    const env = instanceEnv(mesh, inst, 'sample-1', 1, { PATH: '/bin', MESHBOX_ADMIN_TOKEN: 'secret', LANG: 'C' });
    expect(env['MESHBOX_ADMIN_TOKEN']).toBeUndefined();
    expect(env).toMatchObject({ PATH: '/bin', LANG: 'C', PORT: '1234' });
  });
});
