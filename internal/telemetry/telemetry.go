// Package telemetry owns memproxy's OpenTelemetry trace pipeline: the
// tracer provider and OTLP exporter built from config.Tracing, and the
// W3C trace-context propagation used on the way in and out.
package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/memproxy/memproxy/config"
)

// ScopeName names the instrumentation scope of memproxy's spans.
const ScopeName = "github.com/memproxy/memproxy"

// Propagator reads and writes the W3C traceparent and tracestate headers,
// and baggage.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{})

// Tracing is a running trace pipeline. Its Tracer is nil when tracing is
// off: callers test for nil and do nothing, so that tracing off costs a
// pointer comparison.
type Tracing struct {
	Tracer   trace.Tracer
	provider *sdktrace.TracerProvider
}

// New builds the trace pipeline that cfg describes; with tracing off it
// returns a Tracing whose Tracer is nil. version names the build.
func New(ctx context.Context, cfg config.Tracing, version string) (*Tracing, error) {
	if !cfg.Enabled {
		return &Tracing{}, nil
	}
	exp, err := newExporter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(cfg.ServiceName), semconv.ServiceVersion(version)}
	for k, v := range cfg.ResourceAttributes {
		if k != string(semconv.ServiceNameKey) { // OTEL_SERVICE_NAME wins, as in the spec
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, fmt.Errorf("tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sampler(cfg)),
	)
	return &Tracing{Tracer: tp.Tracer(ScopeName, trace.WithInstrumentationVersion(version)), provider: tp}, nil
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.provider == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing shutdown: %w", err)
	}
	return nil
}

// newExporter is the OTLP exporter over cfg's protocol. The exporter reads
// the other OTEL_EXPORTER_OTLP_* variables (headers, timeout, compression,
// certificates) itself.
func newExporter(ctx context.Context, cfg config.Tracing) (sdktrace.SpanExporter, error) {
	if cfg.Protocol == "grpc" {
		var opts []otlptracegrpc.Option
		if cfg.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("OTLP gRPC trace exporter: %w", err)
		}
		return exp, nil
	}
	var opts []otlptracehttp.Option
	if cfg.Endpoint != "" {
		endpoint := cfg.Endpoint
		if cfg.EndpointIsBase {
			// The spec: a base endpoint gets the signal's path appended.
			u, _ := url.Parse(endpoint) // config has checked it
			u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/traces"
			endpoint = u.String()
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(endpoint))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP HTTP trace exporter: %w", err)
	}
	return exp, nil
}

func sampler(cfg config.Tracing) sdktrace.Sampler {
	switch cfg.Sampler {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(cfg.SamplerArg)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SamplerArg))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

// TraceParent is the W3C traceparent of ctx's span, or "" when there is
// none: the form in which a queued turn remembers the request it came from.
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c.Get("traceparent")
}

// SpanContextOf parses a W3C traceparent; the result is invalid when
// traceparent is not one.
func SpanContextOf(traceparent string) trace.SpanContext {
	if traceparent == "" {
		return trace.SpanContext{}
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
	return trace.SpanContextFromContext(ctx)
}
