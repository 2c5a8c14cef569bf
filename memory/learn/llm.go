package learn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	openai "github.com/sashabaranov/go-openai"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/internal/openaiclient"
	"github.com/memproxy/memproxy/policies"
)

// LLMConfig configures extraction by a model.
type LLMConfig struct {
	BaseURL    string // an OpenAI-compatible API
	APIKey     string
	Model      string
	HTTPClient *http.Client
}

// LLMExtractor asks an OpenAI-compatible model, through go-openai, for the
// facts of a conversation and for the decisions about them.
type LLMExtractor struct {
	client *openai.Client
	cfg    LLMConfig
}

// NewLLMExtractor returns an extractor for cfg.
func NewLLMExtractor(cfg LLMConfig) (*LLMExtractor, error) {
	if cfg.Model == "" {
		return nil, errors.New("llm extractor: no model configured")
	}
	return &LLMExtractor{client: openaiclient.New(cfg.BaseURL, cfg.APIKey, cfg.HTTPClient), cfg: cfg}, nil
}

// ErrModelOutput is wrapped by errors about a model's answer that cannot
// be used: not JSON, or not the shape asked for.
var ErrModelOutput = errors.New("unusable model output")

const factsPrompt = `You extract durable facts worth remembering from a conversation, for a memory system.

Return a JSON object {"facts": [{"text": "...", "category": "..."%s}]} and nothing else. The category is one of: %s.

Rules:
- %s%s
- Keep facts that stay useful later: preferences, goals, plans, biography, health, habits, relationships, circumstances, corrections of earlier facts.
- Skip greetings, small talk, questions without information, requests to the assistant, and anything temporary.
- Write each fact as one short, self-contained sentence in the language it was said in.
- Never copy text from a <memproxy-memories> block: those are memories already stored.
- Return {"facts": []} when there is nothing worth remembering.%s`

const userSubject = `Facts are about the USER and come only from the messages of these roles: %s. The other messages are context: nothing said only in them is a fact about the user.`

// scopeRule asks for each fact's scope when the conversation is with an
// agent (FactRequest.Scoped).
const scopeRule = `
- The user is talking to one assistant among several. Give each fact a "scope": "user" when it is about the user and true whatever assistant they talk to (goals, body, health, schedule, likes, family, work, plans); "relationship" when it is about the user and this assistant (how the user wants it to talk to them, jokes shared with it, feedback on it or its advice, things said to it).`

const agentSubject = `Facts are about the AGENT itself (its persona: who it is, how it speaks, what it can do), from every message. The persona is shared by every user of the agent: never return anything about the user or this conversation (names, plans, health, what the user said or did, "we" statements), only what would be true of the agent with any user.`

// Facts asks the model for the facts of conv.
func (l *LLMExtractor) Facts(ctx context.Context, conv []memory.Message, req FactRequest) ([]Fact, error) {
	roles := req.Roles
	if len(roles) == 0 {
		roles = []string{"user"}
	}
	subject := fmt.Sprintf(userSubject, strings.Join(roles, ", "))
	if req.About == AboutAgent {
		subject = agentSubject
	}
	extra := ""
	if req.Instructions != "" {
		extra = "\n\nAlso:\n" + req.Instructions
	}
	var transcript strings.Builder
	for _, m := range conv {
		if m.Role == "system" {
			continue
		}
		fmt.Fprintf(&transcript, "%s: %s\n", m.Role, m.Content)
	}
	var out struct {
		Facts []json.RawMessage `json:"facts"`
	}
	scopeField, scopeText := "", ""
	if req.Scoped && req.About == AboutUser {
		scopeField, scopeText = `, "scope": "user"`, scopeRule
	}
	prompt := fmt.Sprintf(factsPrompt, scopeField, strings.Join(policies.Categories, ", "), subject, scopeText, extra)
	if err := l.ask(ctx, prompt, "Conversation:\n"+transcript.String(), &out); err != nil {
		return nil, fmt.Errorf("extracting facts: %w", err)
	}
	var facts []Fact
	for _, raw := range out.Facts {
		// A fact is {"text", "category", "scope"}; a bare string is
		// accepted too.
		var f struct {
			Text     string `json:"text"`
			Category string `json:"category"`
			Scope    string `json:"scope"`
		}
		if json.Unmarshal(raw, &f.Text) != nil {
			if err := json.Unmarshal(raw, &f); err != nil {
				return nil, fmt.Errorf("%w: a fact is neither a string nor {text, category, scope}", ErrModelOutput)
			}
		}
		f.Text = strings.TrimSpace(f.Text)
		if len([]rune(f.Text)) < max(req.MinChars, 1) {
			continue
		}
		if !slices.Contains(policies.Categories, f.Category) {
			f.Category = Classify(f.Text)
		}
		scope := strings.ToLower(strings.TrimSpace(f.Scope))
		if !req.Scoped || req.About != AboutUser {
			scope = ""
		} else if scope != policies.ScopeUser && scope != policies.ScopeRelationship {
			scope = ClassifyScope(f.Text) // a model that gives no scope, or another word
		}
		facts = append(facts, Fact{Text: f.Text, Category: f.Category, Scope: scope})
	}
	return facts, nil
}

const decidePrompt = `You maintain a memory of facts. Compare NEW FACTS with EXISTING MEMORIES and decide, for each new fact, one event:
- ADD: new information. Give its text.
- UPDATE: it refines or changes an existing memory (e.g. "runs 5K" becomes "runs 10K"). Give the existing memory's id and the updated text, keeping what is still true.
- DELETE: it makes an existing memory false. Give the existing memory's id.
- NONE: the information is already there. Give the existing memory's id.

Existing memories have small integer ids; use only those ids. Return a JSON object and nothing else:
{"memory": [{"event": "ADD", "text": "..."}, {"event": "UPDATE", "id": "0", "text": "..."}, {"event": "DELETE", "id": "1"}, {"event": "NONE", "id": "2"}]}`

// Decide asks the model what to do with facts, given the existing similar
// memories. The model sees memories under integer handles, never their
// ids, so that it cannot invent or mangle an id.
func (l *LLMExtractor) Decide(ctx context.Context, facts []string, existing []memory.Memory) ([]Decision, error) {
	type handle struct {
		ID   string `json:"id"`
		Text string `json:"text"`
	}
	mems := make([]handle, len(existing))
	for i, m := range existing {
		mems[i] = handle{ID: strconv.Itoa(i), Text: m.Text}
	}
	in, _ := json.Marshal(map[string]any{"existing_memories": mems, "new_facts": facts})
	var out struct {
		Memory []struct {
			Event string          `json:"event"`
			ID    json.RawMessage `json:"id"`
			Text  string          `json:"text"`
		} `json:"memory"`
	}
	if err := l.ask(ctx, decidePrompt, string(in), &out); err != nil {
		return nil, fmt.Errorf("deciding on %d facts: %w", len(facts), err)
	}
	var ds []Decision
	for _, d := range out.Memory {
		ev := strings.ToUpper(strings.TrimSpace(d.Event))
		dec := Decision{Event: ev, Existing: -1, Text: strings.TrimSpace(d.Text)}
		switch ev {
		case memory.EventAdd:
			if dec.Text == "" {
				return nil, fmt.Errorf("%w: ADD without text", ErrModelOutput)
			}
		case memory.EventUpdate, memory.EventDelete, memory.EventNone:
			i, err := handleIndex(d.ID, len(existing))
			if err != nil {
				return nil, fmt.Errorf("%w: %s %v", ErrModelOutput, ev, err)
			}
			dec.Existing = i
			if ev == memory.EventUpdate && dec.Text == "" {
				return nil, fmt.Errorf("%w: UPDATE without text", ErrModelOutput)
			}
		default:
			return nil, fmt.Errorf("%w: unknown event %q", ErrModelOutput, d.Event)
		}
		ds = append(ds, dec)
	}
	return ds, nil
}

// handleIndex reads a handle the model gave back: "3" or 3.
func handleIndex(raw json.RawMessage, n int) (int, error) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var f float64
		if json.Unmarshal(raw, &f) != nil {
			return 0, fmt.Errorf("id %s is not a memory id", raw)
		}
		s = strconv.FormatFloat(f, 'f', -1, 64)
	}
	i, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || i < 0 || i >= n {
		return 0, fmt.Errorf("id %q names no existing memory", s)
	}
	return i, nil
}

// ask sends one system+user exchange asking for a JSON object and decodes
// the answer into out.
func (l *LLMExtractor) ask(ctx context.Context, system, user string, out any) error {
	resp, err := l.client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model: l.cfg.Model,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: system},
			{Role: openai.ChatMessageRoleUser, Content: user},
		},
		ResponseFormat: &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONObject},
		Temperature:    0,
	})
	if err != nil {
		return fmt.Errorf("calling %s: %w", l.cfg.Model, err)
	}
	if len(resp.Choices) == 0 {
		return fmt.Errorf("%w: no choices", ErrModelOutput)
	}
	text := strings.TrimSpace(resp.Choices[0].Message.Content)
	// Some models wrap JSON in a code fence despite being asked not to.
	text = strings.TrimPrefix(strings.TrimPrefix(text, "```json"), "```")
	text = strings.TrimSpace(strings.TrimSuffix(text, "```"))
	if err := json.Unmarshal([]byte(text), out); err != nil {
		// The answer may hold what users said: its length, not its text.
		return fmt.Errorf("%w: %v (an answer of %d bytes)", ErrModelOutput, err, len(text))
	}
	return nil
}
