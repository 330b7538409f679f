/**
 * `meshbox delete <kind> <name> [--no-wait]`: removes a rule from the rules folder of the running
 * sandbox (kubectl delete for VirtualServices, DestinationRules, Gateways, Faults), which the
 * sandbox's watcher then stops applying. Only the resource's document goes (with the comments
 * above it, up to the previous `---`); a file left without documents is removed. A runtime fault
 * (`meshbox fault add`) is removed through the admin API instead.
 *
 * The file comes from the sandbox (`meshbox.dev/source` of `meshbox get -o yaml`), so this edits
 * exactly what the sandbox read. With --wait (default) it waits up to 5 s for the sandbox to drop it.
 */
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { closestMatch } from '../../sandbox/config/did-you-mean.js';
import { MeshError } from '../../sandbox/errors.js';
import { adminRequest, expectOk, resolveAdmin } from '../admin-client.js';
import type { Io } from '../output.js';
import { KINDS, splitKindName } from '../resource-kinds.js';
import { fetchObjects } from './get.js';

export interface DeleteOptions {
  admin?: string;
  wait?: boolean;
  waitMs?: number;
}

const SEPARATOR = /^---(\s.*)?$/;

/** the text without the document defining kind/name (undefined when it is not there) */
export function removeDocument(text: string, kind: string, name: string, namespace: string): { text: string; left: number } | undefined {
  const chunks: string[][] = [[]];
  for (const line of text.split('\n')) {
    if (SEPARATOR.test(line)) chunks.push([line]);
    else chunks[chunks.length - 1]!.push(line);
  }
  const defines = (chunk: string[]): boolean => {
    try {
      const v = parse(chunk.filter((l, i) => !(i === 0 && SEPARATOR.test(l))).join('\n')) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
      return v?.kind === kind && v.metadata?.name === name && (v.metadata?.namespace ?? 'default') === namespace;
    } catch {
      return false;
    }
  };
  const hasDoc = (chunk: string[]): boolean => {
    try {
      const v = parse(chunk.filter((l, i) => !(i === 0 && SEPARATOR.test(l))).join('\n')) as unknown;
      return v !== null && v !== undefined;
    } catch {
      return true;
    }
  };
  const at = chunks.findIndex(defines);
  if (at < 0) return undefined;
  const rest = chunks.filter((_, i) => i !== at);
  // the first remaining chunk keeps no leading separator it did not have
  if (at === 0 && rest[0] && SEPARATOR.test(rest[0][0] ?? '') && !SEPARATOR.test(chunks[0]![0] ?? '')) rest[0] = rest[0].slice(1);
  return { text: rest.map((c) => c.join('\n')).join('\n'), left: rest.filter(hasDoc).length };
}

export async function runDelete(kindWord: string, nameArg: string | undefined, o: DeleteOptions, io: Io): Promise<number> {
  const { kind, name } = splitKindName(kindWord, nameArg);
  if (!kind.rule) {
    throw new MeshError('MESH_ERR_USAGE', [`${kind.plural} are defined by meshbox.yaml, not by rules`], {
      hint: `delete one of ${KINDS.filter((k) => k.rule).map((k) => k.plural).join(', ')}; edit meshbox.yaml to remove a ${kind.singular}`,
    });
  }
  if (!name) throw new MeshError('MESH_ERR_USAGE', [`delete needs the name of the ${kind.singular}`], { hint: `\`meshbox get ${kind.plural}\` lists them` });
  const admin = resolveAdmin(o.admin);
  const items = await fetchObjects(admin, kind);
  const obj = items.find((i) => i.metadata.name === name);
  if (!obj) {
    const near = closestMatch(name, items.map((i) => i.metadata.name));
    throw new MeshError('MESH_ERR_NOT_FOUND', [kind.plural, name], { hint: near ? `did you mean \`${near}\`? (\`meshbox get ${kind.plural}\` lists them)` : `\`meshbox get ${kind.plural}\` lists them` });
  }
  if (obj.metadata.annotations?.['meshbox.dev/origin'] === 'runtime') {
    expectOk(await adminRequest(`${admin}/faults/${encodeURIComponent(name)}`, 'DELETE'));
    io.out(`${kind.resource} "${name}" deleted`);
    return 0;
  }
  const src = obj.metadata.annotations?.['meshbox.dev/source'] ?? '';
  const file = src.replace(/:\d+:\d+$/, '');
  if (!file || !existsSync(file)) throw new MeshError('MESH_ERR_USAGE', [`the file of ${kind.singular} ${name} (${src || 'unknown'}) is gone`], { hint: 'the sandbox may not have reloaded yet; run `meshbox get` again' });
  const result = removeDocument(readFileSync(file, 'utf8'), obj.kind, name, obj.metadata.namespace);
  if (!result) throw new MeshError('MESH_ERR_USAGE', [`${file} no longer defines ${obj.kind} ${name}`], { hint: 'the file changed since the sandbox read it; run `meshbox get` again' });
  if (result.left === 0) unlinkSync(file);
  else {
    const tmp = path.join(path.dirname(file), `.${path.basename(file)}.meshbox-delete-${process.pid}`);
    writeFileSync(tmp, result.text);
    renameSync(tmp, file);
  }
  io.out(`${kind.resource} "${name}" deleted (${result.left === 0 ? `removed ${file}` : `from ${file}`})`);
  if (o.wait === false) return 0;
  const deadline = Date.now() + (o.waitMs ?? 5000);
  while (Date.now() < deadline) {
    const now = await fetchObjects(admin, kind);
    if (!now.some((i) => i.metadata.name === name)) return 0;
    await new Promise((r) => setTimeout(r, 100));
  }
  io.err(`warning: the sandbox at ${admin} still applies ${obj.kind} ${name}; is it watching ${path.dirname(file)}? (meshbox up --no-watch does not reload)`);
  return 0;
}
