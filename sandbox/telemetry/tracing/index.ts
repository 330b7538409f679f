export * from './trace-context.js';
export * from './sampling.js';
export * from './span.js';
export * from './trace-store.js';
export * from './encoders.js';
export * from './exporter.js';
export * from './tracer.js';
export * from './telemetry-resource.js';
