/**
 * Toxiproxy's request bodies, checked in Toxiproxy's order and answered with its errors
 * (api.go ProxyCreate/ProxyUpdate/Populate, toxic_collection.go AddToxicJson/UpdateToxicJson).
 */
import { ApiErrors, ToxiproxyApiError } from './api-error.js';
import { decodeStruct, fieldNotAnObject, GoJsonError, isObject, notAnObject, parseGoJson, type GoStruct } from './go-json.js';
import { isToxicType, TOXIC_STRUCTS, zeroAttributes, type ToxiproxyToxic } from './toxic-types.js';

const PROXY: GoStruct = {
  name: 'Proxy',
  fields: [
    { json: 'name', type: 'string' },
    { json: 'listen', type: 'string' },
    { json: 'upstream', type: 'string' },
    { json: 'enabled', type: 'bool' },
  ],
};

const TOXIC_WRAPPER: GoStruct = {
  name: 'ToxicWrapper',
  fields: [
    { json: 'name', type: 'string' },
    { json: 'type', type: 'string' },
    { json: 'stream', type: 'string' },
    { json: 'toxicity', type: 'float32' },
  ],
};

const TOXIC_UPDATE: GoStruct = { name: '', fields: [{ json: 'toxicity', type: 'float32' }] };
const TOXIC_UPDATE_GO_TYPE = 'struct { Attributes interface {} "json:\\"attributes\\""; Toxicity float32 "json:\\"toxicity\\"" }';
const POPULATE_GO_TYPE = '[]struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }';

export interface ProxyInput {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
}

function badBody(detail: string): ToxiproxyApiError {
  return ToxiproxyApiError.join(ApiErrors.badRequestBody, detail);
}

function parse(text: string): unknown {
  try {
    return parseGoJson(text);
  } catch (e) {
    if (e instanceof GoJsonError) throw badBody(e.message);
    throw e;
  }
}

/** decodes one Proxy object over `defaults` (null leaves them as they are) */
function decodeProxy(v: unknown, defaults: ProxyInput, goType = 'toxiproxy.Proxy'): ProxyInput {
  const out: Record<string, unknown> = { ...defaults };
  if (v === null) return out as unknown as ProxyInput;
  if (!isObject(v)) throw badBody(notAnObject(v, goType));
  const err = decodeStruct(v, PROXY, out);
  if (err) throw badBody(err);
  return out as unknown as ProxyInput;
}

/** POST /proxies: enabled defaults to true; name and upstream are required */
export function decodeProxyCreate(text: string): ProxyInput {
  const input = decodeProxy(parse(text), { name: '', listen: '', upstream: '', enabled: true });
  if (input.name.length < 1) throw ToxiproxyApiError.join(ApiErrors.missingField, 'name');
  if (input.upstream.length < 1) throw ToxiproxyApiError.join(ApiErrors.missingField, 'upstream');
  return input;
}

/** POST/PATCH /proxies/{name}: every field defaults to the proxy's current value */
export function decodeProxyUpdate(text: string, current: ProxyInput): ProxyInput {
  return decodeProxy(parse(text), current);
}

/** POST /populate: an array of proxies, each enabled unless it says otherwise */
export function decodePopulate(text: string): ProxyInput[] {
  const v = parse(text);
  if (v === null) return [];
  if (!Array.isArray(v)) throw badBody(notAnObject(v, POPULATE_GO_TYPE));
  const out: ProxyInput[] = [];
  let firstError: string | undefined;
  for (const item of v) {
    const p: Record<string, unknown> = { name: '', listen: '', upstream: '', enabled: true };
    if (item !== null && !isObject(item)) {
      firstError ??= notAnObject(item, 'struct { toxiproxy.Proxy; Enabled *bool "json:\\"enabled\\"" }');
    } else if (item) {
      const err = decodeStruct(item, PROXY, p);
      firstError ??= err;
    }
    out.push(p as unknown as ProxyInput);
  }
  if (firstError) throw badBody(firstError);
  out.forEach((p, i) => {
    if (p.name.length < 1) throw ToxiproxyApiError.join(ApiErrors.missingField, `name at proxy ${i + 1}`);
    if (p.upstream.length < 1) throw ToxiproxyApiError.join(ApiErrors.missingField, `upstream at proxy ${i + 1}`);
  });
  return out;
}

/**
 * POST /proxies/{name}/toxics, in Toxiproxy's order: body -> stream -> default name -> type ->
 * duplicate name (409) -> attributes.
 */
export function decodeToxicCreate(text: string, exists: (name: string) => boolean): ToxiproxyToxic {
  const v = parse(text);
  const w: Record<string, unknown> = { name: '', type: '', stream: 'downstream', toxicity: 1 };
  let attrs: unknown = undefined;
  if (v !== null) {
    if (!isObject(v)) throw badBody(notAnObject(v, 'toxics.ToxicWrapper'));
    let err = decodeStruct(v, TOXIC_WRAPPER, w);
    const key = Object.keys(v).find((k) => k.toLowerCase() === 'attributes');
    attrs = key === undefined ? undefined : v[key];
    if (attrs !== undefined && attrs !== null && !isObject(attrs)) err ??= fieldNotAnObject(attrs, 'ToxicWrapper', 'attributes', 'toxics.NoopToxic');
    if (err) throw badBody(err);
  }
  const stream = w['stream'] as string;
  if (!['upstream', 'downstream'].includes(stream.toLowerCase())) throw ApiErrors.invalidStream;
  const type = w['type'] as string;
  const name = (w['name'] as string) || `${type}_${stream}`;
  if (!isToxicType(type)) throw ApiErrors.invalidToxicType;
  if (exists(name)) throw ApiErrors.toxicAlreadyExists;
  const attributes = zeroAttributes(type);
  if (isObject(attrs)) {
    const err = decodeStruct(attrs, TOXIC_STRUCTS[type], attributes, 'attributes.');
    if (err) throw badBody(err);
  }
  return { attributes, name, type, stream, toxicity: w['toxicity'] as number };
}

/** POST/PATCH /proxies/{name}/toxics/{toxic}: only `attributes` and `toxicity` change */
export function decodeToxicUpdate(text: string, current: ToxiproxyToxic): ToxiproxyToxic {
  const v = parse(text);
  const next: ToxiproxyToxic = { ...current, attributes: { ...current.attributes } };
  if (v === null) return next;
  if (!isObject(v)) throw badBody(notAnObject(v, TOXIC_UPDATE_GO_TYPE));
  const top: Record<string, unknown> = { toxicity: current.toxicity };
  let err = decodeStruct(v, TOXIC_UPDATE, top);
  const key = Object.keys(v).find((k) => k.toLowerCase() === 'attributes');
  const attrs = key === undefined ? undefined : v[key];
  if (attrs !== undefined && attrs !== null) {
    const struct = TOXIC_STRUCTS[current.type];
    if (!isObject(attrs)) err ??= fieldNotAnObject(attrs, '', 'attributes', `toxics.${struct.name}`);
    else err ??= decodeStruct(attrs, struct, next.attributes, 'attributes.');
  }
  if (err) throw badBody(err);
  next.toxicity = top['toxicity'] as number;
  return next;
}
