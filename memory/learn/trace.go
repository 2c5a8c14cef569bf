package learn

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/memproxy/memproxy/internal/telemetry"
)

// startSpan starts the span of one attempt at learning turns. It is the
// root of its own trace: learning happens after the request has been
// answered, so it is linked to each request's trace, not a part of it.
func (w *Writer) startSpan(ctx context.Context, turns []Turn) (context.Context, trace.Span) {
	var links []trace.Link
	for _, t := range turns {
		if sc := telemetry.SpanContextOf(t.TraceParent); sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attribute.String("memproxy.turn_id", t.ID)}})
		}
	}
	return w.cfg.Tracer.Start(ctx, "memproxy.learn",
		trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindInternal), trace.WithLinks(links...),
		trace.WithAttributes(attribute.Int("memproxy.turns", len(turns))))
}

// endSpan ends a learning span with the attempt's outcome.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, "learning failed") // the error may quote what was said
	}
	span.End()
}
