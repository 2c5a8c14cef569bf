package proxy

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// TestUsageReader reads the model and usage of answers of both APIs, plain
// and streamed, delivered a byte at a time so that lines arrive split.
func TestUsageReader(t *testing.T) {
	cases := []struct {
		name, contentType, body, model string
		in, out                        int64
		has                            bool
	}{
		{"chat", "application/json", `{"model":"m-1","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7}}`, "m-1", 11, 7, true},
		{"chat stream with usage", "text/event-stream",
			"data: {\"model\":\"m-2\",\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n" +
				"data: {\"model\":\"m-2\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3}}\r\n\r\ndata: [DONE]\n\n", "m-2", 5, 3, true},
		{"chat stream without usage", "text/event-stream", "data: {\"model\":\"m-3\",\"choices\":[]}\n\ndata: [DONE]\n\n", "m-3", 0, 0, false},
		{"responses", "application/json", `{"model":"r-1","output":[],"usage":{"input_tokens":9,"output_tokens":4}}`, "r-1", 9, 4, true},
		{"responses stream", "text/event-stream",
			"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"r-2\"}}\n\n" +
				"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"r-2\",\"usage\":{\"input_tokens\":8,\"output_tokens\":2}}}\n\n", "r-2", 8, 2, true},
		{"not JSON", "application/json", `oops`, "", 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			call := newChatCall([]byte(`{"model":"asked"}`))
			res := &http.Response{Header: http.Header{"Content-Type": {c.contentType}}, Body: io.NopCloser(iotest.OneByteReader(strings.NewReader(c.body)))}
			call.attach(res)
			got, err := io.ReadAll(res.Body)
			if err != nil || string(got) != c.body {
				t.Fatalf("relayed %q, %v; want the body untouched", got, err)
			}
			if call.responseModel != c.model || call.hasUsage != c.has || call.inputTokens != c.in || call.outputTokens != c.out {
				t.Errorf("read model %q usage %v %d/%d, want %q %v %d/%d", call.responseModel, call.hasUsage, call.inputTokens, call.outputTokens, c.model, c.has, c.in, c.out)
			}
			if want := c.model; want == "" && call.model() != "asked" {
				t.Errorf("model() = %q without a response model, want the one asked for", call.model())
			}
		})
	}
}
