/**
 * Multi-document YAML with positions: every value of every document can be mapped back to
 * `file:line:col` (1-based), so findings point where the user has to look.
 *
 * - YAML syntax errors become `error` findings at their position (the first one per document:
 *   later ones are usually consequences of it).
 * - Duplicate keys in a mapping are errors that name both places.
 * - Empty documents (a trailing `---`, a document of comments only) are skipped.
 * - Merge keys (`<<: *base`) and aliases work as in Kubernetes YAML.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments } from 'yaml';
import type { Document, Node, ParsedNode, YAMLError } from 'yaml';
import type { Finding, SourceLocation } from './findings.js';
import { makeFinding } from './codes.js';

export type YamlPath = ReadonlyArray<string | number>;

export interface YamlDocument {
  file: string;
  /** 0-based among all documents of the file, counting skipped empty ones */
  index: number;
  /** the plain value (mappings as objects); undefined when the document could not be converted */
  value: unknown;
  /** true when the document has a syntax error (its value is not trustworthy) */
  broken: boolean;
  /** where the document's content starts */
  start: SourceLocation;
  /** character offsets of the document's content in the text (comments around it excluded) */
  range?: { start: number; end: number };
  /**
   * Where `path` is: the value's first character for scalars, the key for mappings and lists
   * under a key (their content starts on the next line), the item for list items. With
   * `{ key: true }` the key itself when the last segment is a mapping key. Falls back to the
   * nearest existing ancestor, then to the document start.
   */
  locate(path: YamlPath, opts?: { key?: boolean }): SourceLocation;
  /** true when `path` exists in the document */
  has(path: YamlPath): boolean;
}

export interface YamlParseResult {
  documents: YamlDocument[];
  findings: Finding[];
}

const SYNTAX_HINTS: Record<string, string> = {
  TAB_AS_INDENT: 'indent with spaces: YAML does not allow tabs for indentation',
  BAD_INDENT: 'check the indentation of this line against the lines above it',
  MULTILINE_IMPLICIT_KEY: 'check the indentation: a nested line must be indented under a `key:` that has no value on its own line',
  BLOCK_AS_IMPLICIT_KEY: 'a value that contains `: ` must be quoted, or its nested lines indented under a key of their own',
  UNEXPECTED_TOKEN: 'check the indentation: list items (`- `) and `key: value` pairs cannot be mixed at the same level',
  MISSING_CHAR: 'add the missing closing character',
  BAD_SCALAR_START: 'quote the value: it starts with a character YAML reserves',
  MULTIPLE_DOCS: 'separate documents with a line holding only `---`',
};

export function parseYaml(text: string, file: string): YamlParseResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: false, merge: true });
  const at = (offset: number): SourceLocation => {
    const p = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { file, line: p.line, col: p.col };
  };
  const findings: Finding[] = [];
  const documents: YamlDocument[] = [];
  const list: Array<Document.Parsed> = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs)) {
    for (const e of (docs as { errors: YAMLError[] }).errors) findings.push(syntaxFinding(e, text, at));
  }
  list.forEach((doc, index) => {
    const contents = doc.contents as ParsedNode | null;
    const empty = contents === null || (isScalar(contents) && contents.value === null && doc.errors.length === 0);
    const firstError = doc.errors[0];
    if (firstError) findings.push(syntaxFinding(firstError, text, at));
    const duplicates = contents ? duplicateKeyFindings(contents, at) : [];
    findings.push(...duplicates);
    if (empty) return;
    let value: unknown;
    let broken = doc.errors.length > 0 || duplicates.length > 0;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      broken = true;
      findings.push(
        makeFinding('YAML_ALIAS', err instanceof Error ? err.message : String(err), {
          location: at(contents?.range[0] ?? 0),
          hint: 'define the anchor (`&name`) before the alias (`*name`) that uses it, in the same document',
        }),
      );
    }
    const start = at(contents?.range[0] ?? 0);
    documents.push({
      file,
      index,
      value,
      broken,
      start,
      range: { start: contents?.range[0] ?? 0, end: contents?.range[1] ?? 0 },
      locate: (path, opts) => locateIn(doc, path, opts?.key === true, at) ?? start,
      has: (path) => findNode(doc, path).found,
    });
  });
  return { documents, findings };
}

function syntaxFinding(e: YAMLError, text: string, at: (offset: number) => SourceLocation): Finding {
  let offset = e.pos[0];
  let message = e.message.replace(/\s+at line \d+, column \d+.*$/s, '');
  if (e.code === 'MISSING_CHAR' && /quote/.test(message)) {
    const quote = message.includes('"') ? '"' : "'";
    const open = openingQuote(text, offset, quote);
    if (open >= 0) {
      offset = open;
      message = `missing closing ${quote} for the string that starts here`;
    }
  }
  return makeFinding('YAML_SYNTAX', `YAML syntax error: ${message}`, {
    location: at(offset),
    hint: SYNTAX_HINTS[e.code] ?? 'fix the YAML syntax at this position',
  });
}

/** The unmatched opening quote before `end` (escaped `\"` and doubled `''` are content). */
function openingQuote(text: string, end: number, quote: string): number {
  for (let i = Math.min(end, text.length) - 1; i >= 0; i--) {
    if (text[i] !== quote) continue;
    if (quote === '"' && text[i - 1] === '\\') continue;
    if (quote === "'" && (text[i - 1] === "'" || text[i + 1] === "'")) {
      i--;
      continue;
    }
    return i;
  }
  return -1;
}

function duplicateKeyFindings(root: Node, at: (offset: number) => SourceLocation): Finding[] {
  const out: Finding[] = [];
  const visit = (node: unknown): void => {
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        const key = keyString(pair.key);
        const keyOffset = (pair.key as Node | null)?.range?.[0] ?? 0;
        const first = seen.get(key);
        if (first !== undefined) {
          const firstAt = at(first);
          out.push(
            makeFinding('YAML_DUPLICATE_KEY', `key \`${key}\` appears twice in this mapping (first at line ${firstAt.line}, col ${firstAt.col})`, {
              location: at(keyOffset),
              hint: 'remove one of them or merge their content: YAML keeps only the last one, which hides the first',
            }),
          );
        } else {
          seen.set(key, keyOffset);
        }
        visit(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) visit(item);
    }
  };
  visit(root);
  return out;
}

function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  if (key === null || key === undefined) return '';
  return String(key);
}

interface Found {
  found: boolean;
  /** deepest node reached and how it was reached */
  node: unknown;
  keyNode?: Node | null;
  /** true when the deepest node reached is the whole path */
  depth: number;
}

function resolve(node: unknown, doc: Document.Parsed): unknown {
  let n = node;
  for (let i = 0; i < 10 && isAlias(n); i++) n = n.resolve(doc);
  return n;
}

function findNode(doc: Document.Parsed, path: YamlPath): Found {
  let node: unknown = resolve(doc.contents, doc);
  let keyNode: Node | null | undefined;
  let depth = 0;
  for (const seg of path) {
    let next: unknown;
    let nextKey: Node | null | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && keyString(p.key) === String(seg));
      if (!pair) break;
      next = pair.value;
      nextKey = pair.key as Node | null;
    } else if (isSeq(node) && typeof seg === 'number') {
      if (seg < 0 || seg >= node.items.length) break;
      next = node.items[seg];
      nextKey = undefined;
    } else {
      break;
    }
    node = resolve(next, doc);
    keyNode = nextKey;
    depth++;
  }
  return { found: depth === path.length, node, keyNode, depth };
}

function locateIn(
  doc: Document.Parsed,
  path: YamlPath,
  wantKey: boolean,
  at: (offset: number) => SourceLocation,
): SourceLocation | undefined {
  const f = findNode(doc, path);
  if (f.depth === 0) return undefined;
  const keyOffset = f.keyNode?.range?.[0];
  const node = f.node as Node | null;
  const valueOffset = node?.range?.[0];
  const emptyValue = isScalar(node) && node.value === null;
  if (keyOffset !== undefined && (wantKey || !f.found || valueOffset === undefined || emptyValue || isMap(node) || isSeq(node))) {
    return at(keyOffset);
  }
  if (valueOffset !== undefined) return at(valueOffset);
  return keyOffset !== undefined ? at(keyOffset) : undefined;
}
