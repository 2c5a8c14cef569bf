package proxy

import (
	"context"
	"strconv"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/memproxy/memproxy/internal/telemetry"
)

// Spans of a chat request, all in the request's trace (the client's, when
// it sent a traceparent):
//
//	POST /v1/chat/completions   server: the whole request
//	  memproxy.recall           recall within the budget
//	    memproxy.recall.embed   the query's embedding (memory.Retriever)
//	    memproxy.recall.search  the store's searches (memory.Retriever)
//	  memproxy.inject           the memory block placed in the request
//	  chat <model>              client: the upstream call, with the GenAI
//	                            semantic conventions' attributes
//
// Learning is traced by the writer (memory/learn), in a trace of its own
// linked to the request's. Span attributes never hold ids or text.

// traceChat starts the server span of a chat request, continuing the
// client's trace, and returns the function that ends it.
func (s *Server) traceChat(c *gin.Context) func() {
	ctx := telemetry.Propagator.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
	path := c.FullPath()
	ctx, span := s.opts.Tracer.Start(ctx, c.Request.Method+" "+path,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(c.Request.Method),
			semconv.HTTPRoute(path),
			semconv.URLPath(c.Request.URL.Path),
		))
	c.Request = c.Request.WithContext(ctx)
	return func() {
		code := c.Writer.Status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(code))
		if v := c.Writer.Header().Get(HeaderStatus); v != "" {
			span.SetAttributes(attribute.String("memproxy.memory.status", v))
		}
		if v := c.Writer.Header().Get(HeaderLearning); v != "" {
			span.SetAttributes(attribute.String("memproxy.memory.learning", v))
		}
		if code >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(code))
		}
		span.End()
	}
}

// startSpan starts an internal span when tracing is on; span is nil when
// it is off.
func (s *Server) startSpan(ctx context.Context, name string) (context.Context, trace.Span) {
	if s.opts.Tracer == nil {
		return ctx, nil
	}
	return s.opts.Tracer.Start(ctx, name)
}

// endSpan ends span, if any, with attrs and, when err is set, an error
// status saying why.
func endSpan(span trace.Span, err error, why string, attrs ...attribute.KeyValue) {
	if span == nil {
		return
	}
	span.SetAttributes(attrs...)
	if err != nil {
		// why, not err's text: an error may quote ids (see failReason).
		span.SetStatus(codes.Error, why)
	}
	span.End()
}

// startUpstream starts the client span of a chat's upstream call, named
// and described as the GenAI semantic conventions say.
func (s *Server) startUpstream(ctx context.Context, call *chatCall) context.Context {
	name := "chat"
	if call.requestModel != "" {
		name += " " + call.requestModel
	}
	attrs := []attribute.KeyValue{
		semconv.GenAIOperationNameChat,
		semconv.GenAIProviderNameOpenAI,
		semconv.GenAIRequestModel(call.requestModel),
		semconv.ServerAddress(s.opts.Upstream.Hostname()),
	}
	port := s.opts.Upstream.Port()
	if port == "" && s.opts.Upstream.Scheme == "https" {
		port = "443"
	} else if port == "" {
		port = "80"
	}
	if n, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(n))
	}
	ctx, call.span = s.opts.Tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return ctx
}

// endUpstream records what the upstream answered on its span.
func endUpstream(call *chatCall) {
	span := call.span
	if call.responseModel != "" {
		span.SetAttributes(semconv.GenAIResponseModel(call.responseModel))
	}
	if call.hasUsage {
		span.SetAttributes(semconv.GenAIUsageInputTokens(int(call.inputTokens)), semconv.GenAIUsageOutputTokens(int(call.outputTokens)))
	}
	switch {
	case call.status == 0:
		span.SetStatus(codes.Error, "upstream unreachable")
	case call.status >= 400:
		span.SetAttributes(semconv.HTTPResponseStatusCode(call.status), semconv.ErrorTypeKey.String(strconv.Itoa(call.status)))
		span.SetStatus(codes.Error, strconv.Itoa(call.status))
	default:
		span.SetAttributes(semconv.HTTPResponseStatusCode(call.status))
	}
	span.End()
}
