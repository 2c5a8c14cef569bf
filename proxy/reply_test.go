package proxy

import (
	"reflect"
	"strings"
	"testing"
)

func TestSSEEvents(t *testing.T) {
	type ev struct{ event, data string }
	tests := []struct {
		name string
		in   string
		want []ev
	}{
		{"lf", "data: a\n\ndata: b\n\n", []ev{{"", "a"}, {"", "b"}}},
		{"crlf", "data: a\r\n\r\n", []ev{{"", "a"}}},
		{"cr", "data: a\r\rdata: b\r\r", []ev{{"", "a"}, {"", "b"}}},
		{"named", "event: response.completed\ndata: {}\n\n", []ev{{"response.completed", "{}"}}},
		{"multi-line data", "data: a\ndata: b\n\n", []ev{{"", "a\nb"}}},
		{"no space after colon", "data:a\n\n", []ev{{"", "a"}}},
		{"comment and id", ": keep-alive\nid: 7\ndata: x\n\n", []ev{{"", "x"}}},
		{"no data is not dispatched", "event: ping\n\n", nil},
		{"unterminated last event dropped", "data: a\n\ndata: b\n", []ev{{"", "a"}}},
		{"unterminated line dropped", "data: a\n\ndata: b", []ev{{"", "a"}}},
	}
	for _, tt := range tests {
		var got []ev
		sseEvents([]byte(tt.in), func(e string, d []byte) { got = append(got, ev{e, string(d)}) })
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func FuzzSSEEvents(f *testing.F) {
	f.Add([]byte("data: a\n\nevent: x\ndata: b\r\n\r\n"))
	f.Add([]byte("data: [DONE]\n\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		n := 0
		sseEvents(raw, func(_ string, d []byte) {
			n++
			if len(d) > len(raw) {
				t.Fatalf("event data longer than the stream")
			}
		})
		if n > len(raw)/2+1 {
			t.Fatalf("%d events from %d bytes", n, len(raw))
		}
		chatReply(raw, true)
		responsesReply(raw, true)
		chatReply(raw, false)
		responsesReply(raw, false)
	})
}

func TestChatReply(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		stream bool
		want   reply
	}{
		{"plain", `{"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}`, false,
			reply{text: "Hi", complete: true}},
		{"plain tool call", `{"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]}}]}`, false,
			reply{toolCalls: []toolCall{{Name: "f", Arguments: "{}"}}, complete: true}},
		{"plain error", `{"error":{"message":"x"}}`, false, reply{}},
		{"stream", "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"total_tokens\":3}}\n\ndata: [DONE]\n\n", true,
			reply{text: "Hello", complete: true}},
		{"stream tool call deltas", "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"a\\\":\"}}]}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]}}]}\n\ndata: [DONE]\n\n", true,
			reply{toolCalls: []toolCall{{Name: "get_weather", Arguments: `{"a":1}`}}, complete: true}},
		{"stream other choices ignored", "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"B\"}},{\"index\":0,\"delta\":{\"content\":\"A\"}}]}\n\ndata: [DONE]\n\n", true,
			reply{text: "A", complete: true}},
		{"stream in-band error", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"error\":{\"message\":\"boom\"}}\n\n", true,
			reply{text: "Hel"}},
		{"stream cut short", "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n", true,
			reply{text: "Hel"}},
	}
	for _, tt := range tests {
		if got := chatReply([]byte(tt.raw), tt.stream); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestResponsesReply(t *testing.T) {
	completed := `{"id":"r","status":"completed","output":[{"type":"reasoning","summary":[]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Hi "},{"type":"output_text","text":"there"}]},{"type":"function_call","name":"f","arguments":"{}"}]}`
	tests := []struct {
		name   string
		raw    string
		stream bool
		want   reply
	}{
		{"plain", completed, false, reply{text: "Hi there", toolCalls: []toolCall{{Name: "f", Arguments: "{}"}}, complete: true}},
		{"plain failed", `{"id":"r","status":"failed","error":{"code":"server_error"},"output":[]}`, false, reply{}},
		{"stream", "event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":" + completed + "}\n\n", true,
			reply{text: "Hi there", toolCalls: []toolCall{{Name: "f", Arguments: "{}"}}, complete: true}},
		{"stream error", "event: error\ndata: {\"type\":\"error\",\"message\":\"x\"}\n\n", true, reply{}},
		{"stream without completion", "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"Hi\"}\n\n", true, reply{}},
	}
	for _, tt := range tests {
		if got := responsesReply([]byte(tt.raw), tt.stream); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if r := responsesReply([]byte(strings.Repeat("{", 10)), false); r.complete {
		t.Errorf("invalid JSON read as complete")
	}
}
