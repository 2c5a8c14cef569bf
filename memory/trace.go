package memory

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// childSpan starts a span under ctx's span when that one is being
// recorded (the caller traces); otherwise it returns ctx and a nil span,
// at the cost of one lookup.
func childSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, nil
	}
	return parent.TracerProvider().Tracer("github.com/memproxy/memproxy/memory").Start(ctx, name)
}

// endChildSpan ends span, if any, with attrs and, when failed is set, an
// error status naming it. The error's text is not recorded: a store's
// error may quote a filter, and filters hold ids.
func endChildSpan(span trace.Span, failed error, attrs ...attribute.KeyValue) {
	if span == nil {
		return
	}
	span.SetAttributes(attrs...)
	if failed != nil {
		why := ErrSearch.Error()
		if errors.Is(failed, ErrEmbedding) {
			why = ErrEmbedding.Error()
		}
		span.SetStatus(codes.Error, why)
	}
	span.End()
}
