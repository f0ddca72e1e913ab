// OpenTelemetry tracing. Tracing is off unless an OTLP endpoint is configured with the
// standard variables (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
// the SDK then reads the rest of the OTEL_* variables itself (protocol, headers, sampler,
// batch delays). Without it every span below is the API's no-op and costs next to nothing.
//
// Span tree of one operation: the GraphQL operation (continuing the client's
// `traceparent`), its root resolvers, the engine phases (index search, spreading
// activation, ranking) and RocksDB writes; calls to other nodes carry the context in NATS
// headers, so a forwarded, replicated or scattered operation is one trace.

import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { NodeSDK } from '@opentelemetry/sdk-node';

const TRACER = 'engram';

export function tracer() {
  return trace.getTracer(TRACER);
}

/** Whether the environment asks for trace export. */
export function tracingConfigured(env: Record<string, string | undefined> = process.env): boolean {
  if ((env['OTEL_SDK_DISABLED'] ?? '').trim().toLowerCase() === 'true') return false;
  if ((env['OTEL_TRACES_EXPORTER'] ?? '').trim().toLowerCase() === 'none') return false;
  return Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim() || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim());
}

let sdk: NodeSDK | undefined;

/**
 * Starts the SDK once per process, naming the node: service.name `engram` (unless
 * OTEL_SERVICE_NAME says otherwise) and service.instance.id the node id.
 */
export async function startTracing(nodeId: string, logger: { info(o: object, m?: string): void }): Promise<boolean> {
  if (sdk !== undefined || !tracingConfigured()) return sdk !== undefined;
  const [{ NodeSDK }, { resourceFromAttributes }] = await Promise.all([import('@opentelemetry/sdk-node'), import('@opentelemetry/resources')]);
  sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': process.env['OTEL_SERVICE_NAME'] ?? 'engram', 'service.instance.id': nodeId }),
    // Engram creates its own spans; no automatic instrumentation of every library.
    instrumentations: [],
  });
  sdk.start();
  logger.info({ endpoint: process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? process.env['OTEL_EXPORTER_OTLP_ENDPOINT'], protocol: process.env['OTEL_EXPORTER_OTLP_PROTOCOL'] ?? 'http/protobuf' }, 'exporting traces over OTLP');
  return true;
}

/** Flushes and stops the SDK (on shutdown, so the last spans are exported). */
export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown();
}

/** Runs `work` in a new active span; errors mark the span and pass through. */
export function traced<T>(name: string, work: (span: Span) => Promise<T>, options: { attributes?: Attributes; kind?: SpanKind; parent?: Context } = {}): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, ...(options.attributes === undefined ? {} : { attributes: options.attributes }) }, parent, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Like `traced`, but only inside a recorded trace: fine-grained work (single storage reads)
 * gets a child span when an operation is traced, and costs nothing otherwise, so background
 * work never starts a trace of its own per read.
 */
export function tracedChild<T>(name: string, work: () => Promise<T>, attributes?: Attributes): Promise<T> {
  if (trace.getActiveSpan()?.isRecording() !== true) return work();
  return traced(name, work, attributes === undefined ? {} : { attributes });
}

/** The context a message's or request's headers carry (W3C traceparent/tracestate). */
export function extractContext(headers: Readonly<Record<string, string>>): Context {
  return propagation.extract(context.active(), headers);
}

/** Headers carrying the active trace context, added to `base`; `base` is kept when no span is active. */
export function injectContext(base: Readonly<Record<string, string>> = {}): Record<string, string> {
  const carrier: Record<string, string> = { ...base };
  if (trace.getSpan(context.active()) !== undefined) propagation.inject(context.active(), carrier);
  return carrier;
}

export { SpanKind };
