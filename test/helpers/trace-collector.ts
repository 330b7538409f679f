/**
 * A small trace collector on loopback for tests: OTLP/HTTP JSON on `/v1/traces` and Zipkin v2
 * JSON on `/api/v2/spans`, recording what it receives. `mode` makes it misbehave: `error`
 * answers 500, `hang` reads the body and never answers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedSpan {
  format: 'otlp' | 'zipkin';
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: string;
  service: string;
  tags: Record<string, string>;
  events: string[];
}

export interface TraceCollector {
  url: string;
  port: number;
  mode: 'ok' | 'error' | 'hang';
  requests: Array<{ path: string; contentType: string; body: unknown }>;
  spans: ReceivedSpan[];
  close(): Promise<void>;
}

interface OtlpValue { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number }
const val = (v: OtlpValue): string => String(v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue);

export async function startTraceCollector(): Promise<TraceCollector> {
  const c: TraceCollector = {
    url: '',
    port: 0,
    mode: 'ok',
    requests: [],
    spans: [],
    close: () => new Promise((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      if (c.mode === 'hang') return;
      if (c.mode === 'error') {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('collector is broken');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      c.requests.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', body });
      if (req.url === '/v1/traces') {
        const rs = (body as { resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: OtlpValue }> }; scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }> }).resourceSpans;
        for (const r of rs) {
          const service = val(r.resource.attributes.find((a) => a.key === 'service.name')!.value);
          for (const ss of r.scopeSpans) {
            for (const s of ss.spans) {
              c.spans.push({
                format: 'otlp',
                traceId: s['traceId'] as string,
                spanId: s['spanId'] as string,
                ...(s['parentSpanId'] ? { parentSpanId: s['parentSpanId'] as string } : {}),
                name: s['name'] as string,
                kind: s['kind'] === 2 ? 'SERVER' : s['kind'] === 3 ? 'CLIENT' : String(s['kind']),
                service,
                tags: Object.fromEntries((s['attributes'] as Array<{ key: string; value: OtlpValue }>).map((a) => [a.key, val(a.value)])),
                events: (s['events'] as Array<{ name: string }>).map((e) => e.name),
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      if (req.url === '/api/v2/spans') {
        for (const s of body as Array<Record<string, unknown>>) {
          c.spans.push({
            format: 'zipkin',
            traceId: s['traceId'] as string,
            spanId: s['id'] as string,
            ...(s['parentId'] ? { parentSpanId: s['parentId'] as string } : {}),
            name: s['name'] as string,
            kind: s['kind'] as string,
            service: (s['localEndpoint'] as { serviceName: string }).serviceName,
            tags: s['tags'] as Record<string, string>,
            events: (s['annotations'] as Array<{ value: string }>).map((a) => a.value),
          });
        }
        res.writeHead(202);
        res.end();
        return;
      }
      res.writeHead(404);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  c.port = (server.address() as AddressInfo).port;
  c.url = `http://127.0.0.1:${c.port}`;
  return c;
}
