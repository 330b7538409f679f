/**
 * Type guards for checks that run on documents whose schema validation may have failed: they
 * never assume a shape, they look.
 */
export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function objAt(v: unknown, key: string): Obj | undefined {
  if (!isObj(v)) return undefined;
  const child = v[key];
  return isObj(child) ? child : undefined;
}

export function listAt(v: unknown, key: string): unknown[] {
  if (!isObj(v)) return [];
  const child = v[key];
  return Array.isArray(child) ? child : [];
}

export function strAt(v: unknown, key: string): string | undefined {
  if (!isObj(v)) return undefined;
  const child = v[key];
  return typeof child === 'string' ? child : undefined;
}
