package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP trace receiver built on the official OTLP
// protobuf packages: it keeps every span exported to it, over gRPC or
// HTTP/protobuf.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu       sync.Mutex
	spans    []*tracepb.Span
	resource []*commonpb.KeyValue
}

func (r *otlpReceiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		r.resource = rs.GetResource().GetAttributes()
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (r *otlpReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "want a protobuf POST to /v1/traces", http.StatusNotFound)
		return
	}
	b, err := io.ReadAll(req.Body)
	var msg collectortrace.ExportTraceServiceRequest
	if err == nil {
		err = proto.Unmarshal(b, &msg)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	res, _ := r.Export(req.Context(), &msg)
	out, _ := proto.Marshal(res)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// startReceiver serves a receiver over protocol and returns it and the
// endpoint to give OTEL_EXPORTER_OTLP_ENDPOINT.
func startReceiver(t *testing.T, protocol string) (*otlpReceiver, string) {
	r := &otlpReceiver{}
	if protocol == "http/protobuf" {
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		return r, srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(gs, r)
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	return r, "http://" + ln.Addr().String()
}

// TestTracesOverOTLP sends a plain and a streamed chat through the sidecar
// with tracing on, and checks what a real OTLP receiver gets: one trace
// per chat (the client's, when it sent a traceparent) holding the recall,
// embed, search, inject and upstream spans, the GenAI attributes with the
// usage the answer reported, and a learning span linked to each chat.
func TestTracesOverOTLP(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(strings.ReplaceAll(protocol, "/", "-"), func(t *testing.T) { testTraces(t, protocol) })
	}
}

func testTraces(t *testing.T, protocol string) {
	recv, endpoint := startReceiver(t, protocol)
	s := startSidecar(t, map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
		"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
		"OTEL_SERVICE_NAME":           "memproxy-under-test",
	})
	s.addPersona("coach", "I am a patient running coach.")
	who := map[string]string{"X-Memory-User-Id": "sarah", "X-Memory-Agent-Id": "coach"}

	// A plain chat, within the client's trace.
	const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	plain := map[string]string{"traceparent": "00-" + clientTrace + "-" + clientSpan + "-01"}
	for k, v := range who {
		plain[k] = v
	}
	code, body := s.do("POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"I ran 10K today in the rain."}]}`, plain)
	if code != 200 {
		t.Fatalf("plain chat: %d %s", code, body)
	}
	upstreamParent := ""
	if r, ok := s.up.Last("/v1/chat/completions"); ok {
		upstreamParent = r.Header.Get("traceparent")
	}
	plainUsage := [2]int64{gjson.Get(body, "usage.prompt_tokens").Int(), gjson.Get(body, "usage.completion_tokens").Int()}
	// A streamed chat that asks for its usage, in a trace of its own.
	code, body = s.do("POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"My goal is a half marathon in June."}]}`, who)
	if code != 200 {
		t.Fatalf("streamed chat: %d %s", code, body)
	}
	var streamUsage [2]int64
	for _, line := range strings.Split(body, "\n") {
		if data, ok := strings.CutPrefix(line, "data: "); ok && gjson.Get(data, "usage.prompt_tokens").Exists() {
			streamUsage = [2]int64{gjson.Get(data, "usage.prompt_tokens").Int(), gjson.Get(data, "usage.completion_tokens").Int()}
		}
	}
	if streamUsage[0] == 0 || plainUsage[0] == 0 {
		t.Fatalf("the fake upstream reported no usage: plain %v, streamed %v", plainUsage, streamUsage)
	}

	// Metrics beside the traces.
	if !waitFor(10*time.Second, func() bool { return s.metric(`memproxy_writer_turns_total{result="applied"}`) >= 2 }) {
		t.Fatalf("the turns were not learned")
	}
	if got, want := s.metric(`memproxy_token_usage_total{model="gpt-4o-mini",type="input"}`), float64(plainUsage[0]+streamUsage[0]); got != want {
		t.Errorf("input tokens metric = %v, want %v", got, want)
	}
	if got, want := s.metric(`memproxy_token_usage_total{model="gpt-4o-mini",type="output"}`), float64(plainUsage[1]+streamUsage[1]); got != want {
		t.Errorf("output tokens metric = %v, want %v", got, want)
	}
	if got := s.metric(`memproxy_upstream_responses_total{code="200",route="/v1/chat/completions"}`); got != 2 {
		t.Errorf("upstream 200s on the chat route = %v, want 2", got)
	}

	// Stopping the sidecar flushes its spans.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	recv.mu.Lock()
	spans := recv.spans
	resource := recv.resource
	recv.mu.Unlock()
	if v := attr(resource, "service.name"); v != "memproxy-under-test" {
		t.Errorf("service.name = %q, want OTEL_SERVICE_NAME's", v)
	}
	traces := map[string][]*tracepb.Span{}
	var learning []*tracepb.Span
	for _, sp := range spans {
		if sp.Name == "memproxy.learn" {
			learning = append(learning, sp)
			continue
		}
		id := hex.EncodeToString(sp.TraceId)
		traces[id] = append(traces[id], sp)
	}
	t.Logf("received over %s:\n%s", protocol, describe(spans))
	if len(traces) != 2 {
		t.Fatalf("%d request traces, want one per chat (2)", len(traces))
	}
	plainTrace, ok := traces[clientTrace]
	if !ok {
		t.Fatalf("no trace continues the client's traceparent %s", clientTrace)
	}
	var streamTrace string
	for id := range traces {
		if id != clientTrace {
			streamTrace = id
		}
	}
	checkChatTrace(t, "plain", plainTrace, clientSpan, plainUsage)
	// The upstream is called within the trace, as a child of the call's span.
	for _, sp := range plainTrace {
		if sp.Name == "chat gpt-4o-mini" {
			if want := "00-" + clientTrace + "-" + hex.EncodeToString(sp.SpanId) + "-01"; upstreamParent != want {
				t.Errorf("the upstream got traceparent %q, want %q", upstreamParent, want)
			}
		}
	}
	checkChatTrace(t, "streamed", traces[streamTrace], "", streamUsage)

	// Learning is traced apart, linked to each chat's trace.
	linked := map[string]bool{}
	for _, sp := range learning {
		for _, l := range sp.Links {
			linked[hex.EncodeToString(l.TraceId)] = true
		}
		if hex.EncodeToString(sp.TraceId) == clientTrace || hex.EncodeToString(sp.TraceId) == streamTrace {
			t.Errorf("the learning span is inside a request's trace; it should be linked to it")
		}
	}
	if !linked[clientTrace] || !linked[streamTrace] {
		t.Errorf("learning spans link to %v, want both chats' traces", linked)
	}
}

// checkChatTrace checks the spans of one chat's trace.
func checkChatTrace(t *testing.T, name string, spans []*tracepb.Span, parent string, usage [2]int64) {
	t.Helper()
	byName := map[string]*tracepb.Span{}
	for _, sp := range spans {
		if byName[sp.Name] != nil {
			t.Errorf("%s: two %s spans", name, sp.Name)
		}
		byName[sp.Name] = sp
	}
	want := []string{"POST /v1/chat/completions", "memproxy.recall", "memproxy.recall.embed", "memproxy.recall.search", "memproxy.inject", "chat gpt-4o-mini"}
	for _, n := range want {
		if byName[n] == nil {
			t.Fatalf("%s: no %s span among %d", name, n, len(spans))
		}
	}
	if len(spans) != len(want) {
		t.Errorf("%s: %d spans, want %d", name, len(spans), len(want))
	}
	server := byName["POST /v1/chat/completions"]
	if got := hex.EncodeToString(server.ParentSpanId); got != parent {
		t.Errorf("%s: server span's parent = %q, want %q", name, got, parent)
	}
	if server.Kind != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("%s: server span kind %v", name, server.Kind)
	}
	childOf := map[string]string{
		"memproxy.recall": "POST /v1/chat/completions", "memproxy.inject": "POST /v1/chat/completions",
		"chat gpt-4o-mini": "POST /v1/chat/completions", "memproxy.recall.embed": "memproxy.recall",
		"memproxy.recall.search": "memproxy.recall",
	}
	for child, p := range childOf {
		if string(byName[child].ParentSpanId) != string(byName[p].SpanId) {
			t.Errorf("%s: %s is not a child of %s", name, child, p)
		}
	}
	call := byName["chat gpt-4o-mini"]
	if call.Kind != tracepb.Span_SPAN_KIND_CLIENT {
		t.Errorf("%s: upstream span kind %v, want client", name, call.Kind)
	}
	attrs := map[string]string{
		"gen_ai.operation.name":      "chat",
		"gen_ai.provider.name":       "openai",
		"gen_ai.request.model":       "gpt-4o-mini",
		"gen_ai.response.model":      "gpt-4o-mini",
		"gen_ai.usage.input_tokens":  fmt.Sprint(usage[0]),
		"gen_ai.usage.output_tokens": fmt.Sprint(usage[1]),
		"http.response.status_code":  "200",
	}
	for k, v := range attrs {
		if got := attr(call.Attributes, k); got != v {
			t.Errorf("%s: upstream span %s = %q, want %q", name, k, got, v)
		}
	}
	if got := attr(byName["memproxy.inject"].Attributes, "memproxy.memories_injected"); got == "" || got == "0" {
		t.Errorf("%s: inject span says %q memories injected, want the persona", name, got)
	}
	if got := attr(server.Attributes, "memproxy.memory.status"); got != "injected" {
		t.Errorf("%s: server span memory status %q", name, got)
	}
}

// attr is the value of the attribute key, as text ("" if absent).
func attr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.Key != key {
			continue
		}
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue
		case *commonpb.AnyValue_IntValue:
			return fmt.Sprint(v.IntValue)
		case *commonpb.AnyValue_BoolValue:
			return fmt.Sprint(v.BoolValue)
		case *commonpb.AnyValue_DoubleValue:
			return fmt.Sprint(v.DoubleValue)
		}
	}
	return ""
}

// describe prints spans as received: trace, name, kind, attributes, links.
func describe(spans []*tracepb.Span) string {
	sorted := append([]*tracepb.Span(nil), spans...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if string(a.TraceId) != string(b.TraceId) {
			return hex.EncodeToString(a.TraceId) < hex.EncodeToString(b.TraceId)
		}
		return a.StartTimeUnixNano < b.StartTimeUnixNano
	})
	var sb strings.Builder
	for _, sp := range sorted {
		fmt.Fprintf(&sb, "trace %s span %s parent %s %-28s %s", hex.EncodeToString(sp.TraceId)[:8], hex.EncodeToString(sp.SpanId)[:8],
			hex.EncodeToString(sp.ParentSpanId), sp.Name, strings.TrimPrefix(sp.Kind.String(), "SPAN_KIND_"))
		for _, kv := range sp.Attributes {
			fmt.Fprintf(&sb, " %s=%s", kv.Key, attr([]*commonpb.KeyValue{kv}, kv.Key))
		}
		for _, l := range sp.Links {
			fmt.Fprintf(&sb, " link=%s", hex.EncodeToString(l.TraceId)[:8])
		}
		sb.WriteString("\n")
	}
	return sb.String()
}
