/**
 * Which files a list of paths means, and their text: a folder stands for its `*.yaml` and
 * `*.yml` files (not recursive, sorted by name, editor temp and hidden files ignored); a file
 * stands for itself whatever its name. Paths keep the form the user gave (relative stays
 * relative), so findings print them as typed.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Finding } from './findings.js';
import { makeFinding } from './codes.js';

export interface RuleSource {
  file: string;
  text: string;
}

/** True for names a rules folder contributes: `*.yaml`/`*.yml`, not hidden, not editor temp files. */
export function isRuleFileName(name: string): boolean {
  if (!/\.ya?ml$/i.test(name)) return false;
  if (name.startsWith('.') || name.startsWith('#')) return false;
  return true;
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The files `paths` stand for, in order, and findings for paths that do not exist. */
export async function expandRulePaths(paths: readonly string[]): Promise<{ files: string[]; findings: Finding[] }> {
  const files: string[] = [];
  const findings: Finding[] = [];
  for (const p of paths) {
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (err) {
      findings.push(
        errorCode(err) === 'ENOENT'
          ? makeFinding('PATH_NOT_FOUND', `${p} does not exist`, { hint: 'check the path: give a rules folder (its *.yaml files are read) or rule files' })
          : makeFinding('FILE_UNREADABLE', `${p} cannot be read: ${reason(err)}`, { hint: 'check the permissions of the path' }),
      );
      continue;
    }
    if (!isDir) {
      files.push(p);
      continue;
    }
    let names: string[];
    try {
      names = (await readdir(p)).filter(isRuleFileName);
    } catch (err) {
      findings.push(makeFinding('FILE_UNREADABLE', `folder ${p} cannot be read: ${reason(err)}`, { hint: 'check the permissions of the folder' }));
      continue;
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (names.length === 0) {
      findings.push(makeFinding('FOLDER_EMPTY', `${p} has no *.yaml or *.yml file: no rules from it`, { hint: 'put VirtualService, DestinationRule and Gateway files there' }));
    }
    files.push(...names.map((n) => join(p, n)));
  }
  return { files, findings };
}

/** Reads `files`; unreadable ones become findings. */
export async function readRuleSources(files: readonly string[]): Promise<{ sources: RuleSource[]; findings: Finding[] }> {
  const sources: RuleSource[] = [];
  const findings: Finding[] = [];
  for (const file of files) {
    try {
      sources.push({ file, text: await readFile(file, 'utf8') });
    } catch (err) {
      findings.push(
        errorCode(err) === 'ENOENT'
          ? makeFinding('PATH_NOT_FOUND', `${file} does not exist (it was removed while reading)`, { hint: 'run the command again' })
          : makeFinding('FILE_UNREADABLE', `${file} cannot be read: ${reason(err)}`, { hint: 'check the permissions of the file' }),
      );
    }
  }
  return { sources, findings };
}
