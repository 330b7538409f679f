/**
 * Toxiproxy request bodies decoded as its Go server decodes them: same defaults, same order of
 * checks, same error texts.
 */
import { describe, expect, it } from 'vitest';
import { decodePopulate, decodeProxyCreate, decodeProxyUpdate, decodeToxicCreate, decodeToxicUpdate } from '../../../sandbox/toxiproxy-api/decode.js';
import type { ToxiproxyApiError } from '../../../sandbox/toxiproxy-api/api-error.js';

function error(fn: () => unknown): { error: string; status: number } {
  try {
    fn();
  } catch (e) {
    return (e as ToxiproxyApiError).toJSON();
  }
  throw new Error('expected an error');
}

const none = (): boolean => false;

describe('toxics', () => {
  it('defaults: downstream, toxicity 1, name <type>_<stream>, every attribute present', () => {
    expect(decodeToxicCreate('{"type":"latency","attributes":{"latency":100}}', none)).toEqual({
      name: 'latency_downstream',
      type: 'latency',
      stream: 'downstream',
      toxicity: 1,
      attributes: { latency: 100, jitter: 0 },
    });
    expect(decodeToxicCreate('{"type":"slicer","stream":"upstream"}', none).name).toBe('slicer_upstream');
  });

  it('keys match case-insensitively, unknown keys are ignored, null keeps the default', () => {
    const t = decodeToxicCreate('{"Type":"bandwidth","STREAM":"UpStream","toxicity":null,"extra":1,"attributes":{"Rate":50,"burst":9}}', none);
    expect(t).toEqual({ name: 'bandwidth_UpStream', type: 'bandwidth', stream: 'UpStream', toxicity: 1, attributes: { rate: 50 } });
  });

  it('checks in Toxiproxy order: body, stream, type, duplicate, attributes', () => {
    const dup = (n: string): boolean => n === 'latency_downstream';
    expect(error(() => decodeToxicCreate('[1]', dup))).toEqual({ error: 'bad request body: json: cannot unmarshal array into Go value of type toxics.ToxicWrapper', status: 400 });
    expect(error(() => decodeToxicCreate('{"type":"nope","stream":"x"}', dup)).error).toBe('stream was invalid, can be either upstream or downstream');
    expect(error(() => decodeToxicCreate('{"type":"nope"}', dup))).toEqual({ error: 'invalid toxic type', status: 400 });
    expect(error(() => decodeToxicCreate('{"type":"latency","attributes":{"latency":"x"}}', dup))).toEqual({ error: 'toxic already exists', status: 409 });
    expect(error(() => decodeToxicCreate('{"type":"latency","name":"other","attributes":{"jitter":true}}', dup)).error).toBe(
      'bad request body: json: cannot unmarshal bool into Go struct field LatencyToxic.attributes.jitter of type int64',
    );
    expect(error(() => decodeToxicCreate('{"type":"latency","toxicity":"half"}', none)).error).toBe('bad request body: json: cannot unmarshal string into Go struct field ToxicWrapper.toxicity of type float32');
    expect(error(() => decodeToxicCreate('{"type":"latency","attributes":"slow"}', none)).error).toBe(
      'bad request body: json: cannot unmarshal string into Go struct field ToxicWrapper.attributes of type toxics.NoopToxic',
    );
    expect(error(() => decodeToxicCreate('', none)).error).toBe('bad request body: EOF');
    expect(error(() => decodeToxicCreate('hello', none)).error).toBe("bad request body: invalid character 'h' looking for beginning of value");
    expect(error(() => decodeToxicCreate('{"type":"latency",}', none)).error).toBe("bad request body: invalid character '}' looking for beginning of object key string");
  });

  it('an update changes only attributes and toxicity, keeping what it does not give', () => {
    const current = decodeToxicCreate('{"type":"latency","attributes":{"latency":100,"jitter":5},"toxicity":0.5}', none);
    expect(decodeToxicUpdate('{"attributes":{"latency":300},"type":"timeout","name":"x"}', current)).toEqual({ ...current, attributes: { latency: 300, jitter: 5 } });
    expect(decodeToxicUpdate('{"toxicity":0.25}', current).toxicity).toBe(0.25);
    expect(error(() => decodeToxicUpdate('{"attributes":{"latency":1.5}}', current)).error).toBe(
      'bad request body: json: cannot unmarshal number 1.5 into Go struct field LatencyToxic.attributes.latency of type int64',
    );
  });
});

describe('proxies', () => {
  it('create: enabled by default; name then upstream required', () => {
    expect(decodeProxyCreate('{"name":"a","upstream":"localhost:1"}')).toEqual({ name: 'a', listen: '', upstream: 'localhost:1', enabled: true });
    expect(error(() => decodeProxyCreate('null')).error).toBe('missing required field: name');
    expect(error(() => decodeProxyCreate('{"name":"a","enabled":"yes"}')).error).toBe('bad request body: json: cannot unmarshal string into Go struct field Proxy.enabled of type bool');
    expect(error(() => decodeProxyCreate('{"name":7}')).error).toBe('bad request body: json: cannot unmarshal number into Go struct field Proxy.name of type string');
  });

  it('update: defaults are the current values', () => {
    const cur = { name: 'a', listen: '127.0.0.1:5', upstream: '127.0.0.1:6', enabled: true };
    expect(decodeProxyUpdate('{"enabled":false}', cur)).toEqual({ ...cur, enabled: false });
  });

  it('populate: an array; each missing field names its position', () => {
    expect(decodePopulate('[{"name":"a","upstream":"localhost:1","enabled":false},{"name":"b","upstream":"localhost:2"}]').map((p) => p.enabled)).toEqual([false, true]);
    expect(error(() => decodePopulate('{"name":"a"}')).error).toMatch(/^bad request body: json: cannot unmarshal object into Go value of type \[\]struct/);
    expect(error(() => decodePopulate('[{"upstream":"x:1"}]')).error).toBe('missing required field: name at proxy 1');
  });
});
