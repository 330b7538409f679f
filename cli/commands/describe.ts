/**
 * `meshbox describe <kind> <name> [-o json|yaml]`: one object of a running sandbox, as
 * `kubectl describe` shows it, followed by what applies to it and why: the routes compiled from
 * its VirtualServices (first match wins, with file:line), the clusters and policies of its
 * DestinationRules, the proxies that carry a rule, the faults that hit it.
 */
import type { MeshObject } from '../../sandbox/admin/describe.js';
import { stringify } from 'yaml';
import { adminRequest, expectOk, remoteError, resolveAdmin } from '../admin-client.js';
import { outputFormat, printData } from '../output-format.js';
import type { Io } from '../output.js';
import { splitKindName } from '../resource-kinds.js';
import { MeshError } from '../../sandbox/errors.js';

export interface DescribeOptions {
  admin?: string;
  output?: string;
  json?: boolean;
}

function indent(text: string, by = '  '): string[] {
  return text.replace(/\n$/, '').split('\n').map((l) => `${by}${l}`);
}

export async function runDescribe(kindWord: string, nameArg: string | undefined, o: DescribeOptions, io: Io): Promise<number> {
  const format = outputFormat(o, ['table', 'json', 'yaml']);
  const { kind, name } = splitKindName(kindWord, nameArg);
  if (!name) throw new MeshError('MESH_ERR_USAGE', [`describe needs the name of the ${kind.singular}`], { hint: `\`meshbox get ${kind.plural}\` lists them; then \`meshbox describe ${kind.singular} <name>\`` });
  const admin = resolveAdmin(o.admin);
  const reply = await adminRequest(`${admin}/objects/${kind.plural}/${encodeURIComponent(name)}/describe`);
  if (reply.status === 404) throw remoteError(reply.status, reply.body);
  const d = expectOk(reply) as { object: MeshObject; explain: string[] };
  if (format === 'json' || format === 'yaml') {
    printData(io, d, format);
    return 0;
  }
  const obj = d.object;
  const field = (k: string, v: string): void => io.out(`${`${k}:`.padEnd(14)}${v}`);
  field('Name', obj.metadata.name);
  field('Namespace', obj.metadata.namespace);
  field('Kind', `${obj.kind} (${obj.apiVersion})`);
  field('Labels', Object.entries(obj.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>');
  field('Annotations', Object.entries(obj.metadata.annotations ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ') || '<none>');
  io.out('Spec:');
  for (const l of indent(stringify(obj.spec ?? {}, { lineWidth: 0 }))) io.out(l);
  if (obj.status) {
    io.out('Status:');
    for (const l of indent(stringify(obj.status, { lineWidth: 0 }))) io.out(l);
  }
  for (const l of d.explain) io.out(l);
  return 0;
}
