package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"
)

// identityTransport adds memproxy's headers to every request, which is how
// a go-openai app sends them: go-openai has no default-headers option.
type identityTransport struct {
	user, agent string
	last        http.Header // the response headers of the last call
}

func (t *identityTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Memory-User-Id", t.user)
	r.Header.Set("X-Memory-Agent-Id", t.agent)
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		t.last = resp.Header
	}
	return resp, err
}

// TestGoOpenAI drives the sidecar with go-openai: chat (plain, streamed,
// tools, usage chunk), Responses (plain, streamed), embeddings, models and
// errors.
func TestGoOpenAI(t *testing.T) {
	s := startSidecar(t, nil)
	s.addPersona("tutor_v1", "I am Ada, a patient maths tutor.")
	tr := &identityTransport{user: "lena", agent: "tutor_v1"}
	cfg := openai.DefaultConfig("sk-client-key")
	cfg.BaseURL = s.url + "/v1"
	cfg.HTTPClient = &http.Client{Transport: tr}
	c := openai.NewClientWithConfig(cfg)
	ctx := context.Background()
	user := func(text string) []openai.ChatCompletionMessage {
		return []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: text}}
	}

	resp, err := c.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: user("I struggle with fractions.")})
	if err != nil || resp.Choices[0].Message.Content != "You said: I struggle with fractions." {
		t.Fatalf("chat: %+v, %v", resp, err)
	}
	if tr.last.Get("X-Memory-Status") != "injected" {
		t.Errorf("X-Memory-Status = %q", tr.last.Get("X-Memory-Status"))
	}

	stream, err := c.CreateChatCompletionStream(ctx, openai.ChatCompletionRequest{
		Model: "gpt-4o-mini", Messages: user("Stream me a reply please."), Stream: true,
		StreamOptions: &openai.StreamOptions{IncludeUsage: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var usage *openai.Usage
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
		for _, ch := range chunk.Choices {
			text.WriteString(ch.Delta.Content)
		}
	}
	stream.Close()
	if text.String() != "You said: Stream me a reply please." || usage == nil || usage.TotalTokens == 0 {
		t.Errorf("stream: %q, usage %+v", text.String(), usage)
	}

	tools := []openai.Tool{{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
		Name: "get_weather", Parameters: json.RawMessage(`{"type":"object","properties":{"location":{"type":"string"}}}`),
	}}}
	tstream, err := c.CreateChatCompletionStream(ctx, openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: user("Weather in Paris?"), Tools: tools, Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	var name, args string
	for {
		chunk, err := tstream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("tool stream: %v", err)
		}
		for _, ch := range chunk.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				name += tc.Function.Name
				args += tc.Function.Arguments
			}
		}
	}
	tstream.Close()
	var parsed map[string]string
	if name != "get_weather" || json.Unmarshal([]byte(args), &parsed) != nil || parsed["location"] != "Paris" {
		t.Errorf("tool call stream: %q %q", name, args)
	}

	r, err := c.CreateResponse(ctx, openai.CreateResponseRequest{Model: "gpt-4o-mini", Input: "I prefer visual explanations."})
	if err != nil || r.GetOutputText() != "You said: I prefer visual explanations." {
		t.Fatalf("responses: %+v, %v", r, err)
	}
	rs, err := c.CreateResponseStream(ctx, openai.CreateResponseRequest{Model: "gpt-4o-mini", Input: "Stream a response please."})
	if err != nil {
		t.Fatal(err)
	}
	var deltas strings.Builder
	var completed bool
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("responses stream: %v", err)
		}
		if ev.Type == openai.ResponseStreamEventOutputTextDelta {
			deltas.WriteString(ev.Delta)
		}
		completed = completed || ev.Type == "response.completed"
	}
	rs.Close()
	if deltas.String() != "You said: Stream a response please." || !completed {
		t.Errorf("responses stream: %q, completed %v", deltas.String(), completed)
	}

	emb, err := c.CreateEmbeddings(ctx, openai.EmbeddingRequestStrings{Input: []string{"one", "two"}, Model: "text-embedding-3-small"})
	if err != nil || len(emb.Data) != 2 || len(emb.Data[1].Embedding) != 64 {
		t.Errorf("embeddings: %v", err)
	}
	models, err := c.ListModels(ctx)
	if err != nil || len(models.Models) == 0 {
		t.Errorf("models: %v", err)
	}

	_, err = c.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "error-429", Messages: user("hi")})
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 429 {
		t.Errorf("429: %v", err)
	}

	s.checkUpstreamSawMemory("patient maths tutor", 6)
	if body := s.recallFor("lena", "tutor_v1", "I struggle with fractions."); !strings.Contains(body, "I struggle with fractions.") {
		t.Errorf("Lena's fact was not learned: %s", body)
	}
}
