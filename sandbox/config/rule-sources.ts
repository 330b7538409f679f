/**
 * Which files a list of paths means, and their text: a folder stands for its `*.yaml` and
 * `*.yml` files (sorted by name, editor temp and hidden files ignored); a file stands for itself
 * whatever its name. Paths keep the form the user gave (relative stays relative), so findings
 * print them as typed.
 *
 * A sandbox's rules folder is read without its subfolders (that is what its watcher applies);
 * `meshbox validate DIR` reads a tree (`recursive`), as `kubectl apply -R -f DIR` and
 * `istioctl analyze` do: entries in name order, descending into each subfolder where it sorts
 * (hidden folders and node_modules skipped).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
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

/** What the user can do about an unreadable `what` (file, folder, path), by the error's code. */
export function unreadableHint(err: unknown, what: 'file' | 'folder' | 'path'): string {
  switch (errorCode(err)) {
    case 'ELOOP':
      return `the ${what} is a symbolic link that points (through other links) back at itself: point it at a real ${what} or remove it`;
    case 'EACCES':
    case 'EPERM':
      return `check the permissions of the ${what} (the user running meshbox must be able to read it)`;
    case 'ENAMETOOLONG':
      return 'shorten the path';
    case 'EISDIR':
      return 'give a file, or the folder itself as a rules folder';
    default:
      return `check that the ${what} exists and can be read`;
  }
}

export interface ExpandOptions {
  /** read the subfolders of folders too (default false) */
  recursive?: boolean;
}

/** Folders a recursive walk never enters. */
export function isSkippedFolderName(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules';
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The rule files under `dir`, in walk order (files and subfolders interleaved by name). */
async function walkFolder(dir: string, findings: Finding[]): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    findings.push(makeFinding('FILE_UNREADABLE', `folder ${dir} cannot be read: ${reason(err)}`, { hint: unreadableHint(err, 'folder') }));
    return [];
  }
  entries.sort((a, b) => byName(a.name, b.name));
  const out: string[] = [];
  for (const e of entries) {
    const full = join(dir, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      try {
        const st = await stat(full);
        isDir = st.isDirectory();
        isFile = st.isFile();
      } catch {
        continue;
      }
    }
    if (isDir) {
      if (!isSkippedFolderName(e.name)) out.push(...(await walkFolder(full, findings)));
    } else if (isFile && isRuleFileName(e.name)) {
      out.push(full);
    }
  }
  return out;
}

/** The files `paths` stand for, in order, and findings for paths that do not exist. */
export async function expandRulePaths(paths: readonly string[], opts: ExpandOptions = {}): Promise<{ files: string[]; findings: Finding[] }> {
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
          : makeFinding('FILE_UNREADABLE', `${p} cannot be read: ${reason(err)}`, { hint: unreadableHint(err, 'path') }),
      );
      continue;
    }
    if (!isDir) {
      files.push(p);
      continue;
    }
    if (opts.recursive) {
      const found = await walkFolder(p, findings);
      if (found.length === 0) {
        findings.push(makeFinding('FOLDER_EMPTY', `${p} has no *.yaml or *.yml file, in it or in its subfolders`, { hint: 'give the folder that holds your Istio YAML files' }));
      }
      files.push(...found);
      continue;
    }
    let names: string[];
    try {
      names = (await readdir(p)).filter(isRuleFileName);
    } catch (err) {
      findings.push(makeFinding('FILE_UNREADABLE', `folder ${p} cannot be read: ${reason(err)}`, { hint: unreadableHint(err, 'folder') }));
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
          : makeFinding('FILE_UNREADABLE', `${file} cannot be read: ${reason(err)}`, { hint: unreadableHint(err, 'file') }),
      );
    }
  }
  return { sources, findings };
}
