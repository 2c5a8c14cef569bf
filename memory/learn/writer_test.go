package learn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/memproxy/memproxy/internal/fakeupstream"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/internal/memtest"
	"github.com/memproxy/memproxy/memory/learn"
	"github.com/memproxy/memproxy/policies"
)

var quiet = slog.New(slog.DiscardHandler)

// writerHarness is a Writer on a real embedded store and a real outbox.
type writerHarness struct {
	t      *testing.T
	store  memory.Store
	svc    *learn.Service
	outbox *learn.Outbox
	writer *learn.Writer
}

func newWriterHarness(t *testing.T, store memory.Store, cfg learn.WriterConfig, configure ...func(*learn.Service)) *writerHarness {
	t.Helper()
	e := embed.NewHash(0)
	if store == nil {
		store = newStore(t, e)
	}
	svc := &learn.Service{Store: store, Embedder: e, MinChars: 8}
	for _, c := range configure {
		c(svc)
	}
	ob, err := learn.OpenOutbox(t.TempDir(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	h := &writerHarness{t: t, store: store, svc: svc, outbox: ob, writer: learn.NewWriter(svc, ob, cfg, quiet)}
	t.Cleanup(func() { ob.Close() })
	return h
}

// run starts the writer; the returned func stops it and waits.
func (h *writerHarness) run(drain time.Duration) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.writer.Run(ctx, drain); close(done) }()
	stop := func() { cancel(); <-done }
	h.t.Cleanup(func() {
		select {
		case <-done:
		default:
			stop()
		}
	})
	return stop
}

func turn(id, user, agent string, msgs ...string) learn.Turn {
	return learn.Turn{ID: id, Identity: memory.Identity{UserID: user, AgentID: agent}, UserMessages: msgs, Time: time.Now()}
}

// waitFor waits until cond holds. It runs in a synctest bubble: each time
// every goroutine of the bubble is blocked (the writer idle, waiting on a
// timer or its wake-up channel), it checks cond; while cond is false, it
// lets the bubble's fake clock run on, so that the timers due fire
// (backoffs, debounce, the writer's poll). d bounds the fake time waited:
// no real time passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		synctest.Wait()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var newStore = memtest.NewStore

var count = memtest.Count

// historyOf returns every history record of the memories f selects.
func historyOf(t *testing.T, s memory.Store, f memory.Filter) []memory.HistoryRecord {
	t.Helper()
	ms, err := s.List(context.Background(), f, memory.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var out []memory.HistoryRecord
	for _, m := range ms {
		rs, err := s.History(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rs...)
	}
	return out
}

func TestOutboxIsDurableBoundedAndOrdered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		ob, err := learn.OpenOutbox(dir, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if err := ob.Enqueue(turn(fmt.Sprint("t", i), "sarah", "", fmt.Sprintf("Fact number %d is true.", i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := ob.Enqueue(turn("t3", "sarah", "", "One too many facts.")); !errors.Is(err, learn.ErrQueueFull) {
			t.Errorf("a fourth turn into an outbox of 3: %v, want ErrQueueFull", err)
		}
		ob.Close()
		if err := ob.Enqueue(turn("t4", "sarah", "", "After close.")); !errors.Is(err, learn.ErrOutboxClosed) {
			t.Errorf("Enqueue after Close: %v", err)
		}

		// Reopened, the turns are still there, and are applied in order.
		ob, err = learn.OpenOutbox(dir, 3)
		if err != nil {
			t.Fatal(err)
		}
		defer ob.Close()
		if st := ob.Stats(); st.Pending != 3 || st.Dead != 0 || st.Oldest.IsZero() {
			t.Fatalf("after reopening: %+v", st)
		}
		e := embed.NewHash(0)
		st := newStore(t, e)
		var order []string
		var mu sync.Mutex
		rec := recordingStore{Store: st, onAdd: func(ms []memory.Memory) {
			mu.Lock()
			for _, m := range ms {
				order = append(order, m.Text)
			}
			mu.Unlock()
		}}
		w := learn.NewWriter(&learn.Service{Store: rec, Embedder: e, MinChars: 8}, ob, learn.WriterConfig{Workers: 4}, quiet)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.Run(ctx, time.Second); close(done) }()
		waitFor(t, 5*time.Second, "the queue to drain", func() bool { return ob.Stats().Pending == 0 })
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(order, "|") != "Fact number 0 is true.|Fact number 1 is true.|Fact number 2 is true." {
			t.Errorf("turns of one conversation applied out of order: %q", order)
		}
	})
}

type recordingStore struct {
	memory.Store
	onAdd func([]memory.Memory)
}

func (r recordingStore) Add(ctx context.Context, ms ...memory.Memory) error {
	err := r.Store.Add(ctx, ms...)
	if err == nil {
		r.onAdd(ms)
	}
	return err
}

func TestWriterLearnsOnceInTheUsersScope(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newWriterHarness(t, nil, learn.WriterConfig{})
		ctx := context.Background()
		tr := learn.Turn{ID: "req_1", Identity: memory.Identity{UserID: "sarah", AgentID: "fitcoach_v1", RunID: "r1"},
			UserMessages: []string{"I now run 10K every Sunday.", "thanks"}, Assistant: "Great! You run 10K."}
		// The same turn applied twice (a replay), then the same fact from ten
		// other turns: one memory, one history record.
		for i := range 12 {
			id := "req_1"
			if i >= 2 {
				id = fmt.Sprint("req_", i)
			}
			tr.ID = id
			if _, err := h.writer.Apply(ctx, []learn.Turn{tr}); err != nil {
				t.Fatal(err)
			}
		}
		ms, _ := h.store.List(ctx, memory.UserFilter("sarah"), memory.Page{})
		if len(ms) != 1 {
			t.Fatalf("12 applications of one fact gave %d memories", len(ms))
		}
		m := ms[0]
		// A fact about the user: a user memory, no agent in its metadata.
		if _, ok := m.Metadata["agent_id"]; m.Text != "I now run 10K every Sunday." || ok || m.RunID != "r1" || m.AgentID != "" || m.Metadata["source"] != "chat" {
			t.Errorf("learned %+v", m)
		}
		hs, _ := h.store.History(ctx, m.ID)
		if len(hs) != 1 || hs[0].Event != memory.EventAdd || hs[0].RequestID != "req_1" || hs[0].NewText != m.Text {
			t.Errorf("history = %+v, want one ADD from req_1", hs)
		}
		// Nothing the assistant said was learned, and no persona from chat.
		if _, err := h.writer.Apply(ctx, []learn.Turn{turn("req_x", "", "fitcoach_v1", "I am a brand new persona line.")}); err != nil {
			t.Fatal(err)
		}
		if n := count(t, h.store, memory.Filter{}); n != 1 {
			t.Errorf("store holds %d memories, want 1", n)
		}
	})
}

// flakyStore fails every write and search while down.
type flakyStore struct {
	memory.Store
	down  atomic.Bool
	calls atomic.Int64
}

var errDown = errors.New("store unavailable")

func (f *flakyStore) fail() error {
	f.calls.Add(1)
	if f.down.Load() {
		return errDown
	}
	return nil
}

func (f *flakyStore) Add(ctx context.Context, ms ...memory.Memory) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Add(ctx, ms...)
}

func (f *flakyStore) List(ctx context.Context, fl memory.Filter, p memory.Page) ([]memory.Memory, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.List(ctx, fl, p)
}

func (f *flakyStore) Search(ctx context.Context, r memory.SearchRequest) ([]memory.Hit, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.Search(ctx, r)
}

func (f *flakyStore) AddHistory(ctx context.Context, rs ...memory.HistoryRecord) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.AddHistory(ctx, rs...)
}

// TestStoreDownForAMinuteLosesNothing keeps the store down for a whole
// minute while turns arrive, with the default retry schedule, and checks
// that every turn lands once the store is back. The minute is the fake
// clock's, in a synctest bubble: the retry schedule is the real one, and
// the test takes a fraction of a second.
func TestStoreDownForAMinuteLosesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flaky := &flakyStore{Store: newStore(t, embed.NewHash(0))}
		flaky.down.Store(true)
		h := newWriterHarness(t, flaky, learn.WriterConfig{})
		stop := h.run(time.Second)
		for i := range 20 {
			if err := h.writer.Enqueue(turn(fmt.Sprint("req_", i), fmt.Sprint("user-", i%4), "coach", fmt.Sprintf("My lucky number is %d.", i))); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Minute) // the bubble's fake minute: instant
		if st := h.outbox.Stats(); st.Pending != 20 || st.Dead != 0 {
			t.Fatalf("after a minute down: %+v, want all 20 turns still pending and none dead", st)
		}
		if flaky.calls.Load() < 20 {
			t.Errorf("the writer tried only %d times in a minute", flaky.calls.Load())
		}
		flaky.down.Store(false)
		// The longest wait is one full backoff (at most a minute) after the
		// outage ends.
		waitFor(t, 2*time.Minute, "the turns to land after the outage", func() bool { return h.outbox.Stats().Pending == 0 })
		stop()
		if n := count(t, h.store, memory.Filter{}); n != 20 {
			t.Errorf("%d memories after the outage, want 20", n)
		}
		if hs := historyOf(t, h.store, memory.Filter{}); len(hs) != 20 {
			t.Errorf("%d history records, want 20", len(hs))
		}
	})
}

func TestDefaultRetriesOutlastAnOutageOfMinutes(t *testing.T) {
	// MaxAttempts 12 from 1s doubling to a 60s cap, with jitter taking at
	// most half off: a turn is retried for at least this long before it
	// becomes a dead letter.
	var least time.Duration
	d := time.Second
	for range 11 {
		least += d / 2
		d = min(2*d, time.Minute)
	}
	if least < 3*time.Minute {
		t.Errorf("default retries give up after %v, want at least 3m", least)
	}
}

func TestDeadLettersAndRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flaky := &flakyStore{Store: newStore(t, embed.NewHash(0))}
		flaky.down.Store(true)
		h := newWriterHarness(t, flaky, learn.WriterConfig{MaxAttempts: 3, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
		h.run(time.Second)
		if err := h.writer.Enqueue(turn("req_dead", "sarah", "", "I keep bees on my roof.")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "a dead letter", func() bool { return h.outbox.Stats().Dead == 1 })
		dead, err := h.outbox.DeadLetters()
		if err != nil || len(dead) != 1 {
			t.Fatalf("DeadLetters = %v, %v", dead, err)
		}
		if d := dead[0]; d.Turn.ID != "req_dead" || d.Attempts != 3 || !strings.Contains(d.LastError, "store unavailable") {
			t.Errorf("dead letter = %+v", d)
		}
		if h.outbox.Stats().Pending != 0 {
			t.Errorf("a dead letter is still pending")
		}
		flaky.down.Store(false)
		if err := h.outbox.Retry(dead[0].Seq); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "the retried turn to land", func() bool { return h.outbox.Stats().Pending == 0 })
		if st := h.outbox.Stats(); st.Dead != 0 || count(t, h.store, memory.UserFilter("sarah")) != 1 {
			t.Errorf("after retry: %+v", st)
		}
		if err := h.outbox.Retry(dead[0].Seq); !errors.Is(err, learn.ErrNoDeadLetter) {
			t.Errorf("retrying it again: %v, want ErrNoDeadLetter", err)
		}
	})
}

func TestDiscardDeadLetter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flaky := &flakyStore{Store: newStore(t, embed.NewHash(0))}
		flaky.down.Store(true)
		h := newWriterHarness(t, flaky, learn.WriterConfig{MaxAttempts: 1})
		h.run(time.Second)
		h.writer.Enqueue(turn("req_1", "sarah", "", "I keep bees on my roof."))
		waitFor(t, 5*time.Second, "a dead letter", func() bool { return h.outbox.Stats().Dead == 1 })
		dead, _ := h.outbox.DeadLetters()
		if err := h.outbox.Discard(dead[0].Seq); err != nil {
			t.Fatal(err)
		}
		if d, _ := h.outbox.DeadLetters(); len(d) != 0 || h.outbox.Stats().Dead != 0 {
			t.Errorf("discarded dead letter still there")
		}
	})
}

// TestShutdownDrains stops the writer with turns queued: it applies what
// is due within the drain deadline; what it cannot stays queued.
func TestShutdownDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newWriterHarness(t, nil, learn.WriterConfig{})
		for i := range 50 {
			h.writer.Enqueue(turn(fmt.Sprint("req_", i), fmt.Sprint("u", i%5), "", fmt.Sprintf("Fact %d about me is true.", i)))
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // already stopping: drain only
		h.writer.Run(ctx, 10*time.Second)
		if st := h.outbox.Stats(); st.Pending != 0 {
			t.Errorf("after draining: %+v", st)
		}
		if n := count(t, h.store, memory.Filter{}); n != 50 {
			t.Errorf("%d memories, want 50", n)
		}

		// A store that is down cannot be drained: the turns stay queued.
		flaky := &flakyStore{Store: newStore(t, embed.NewHash(0))}
		flaky.down.Store(true)
		h = newWriterHarness(t, flaky, learn.WriterConfig{})
		h.writer.Enqueue(turn("req_1", "u", "", "Fact one about me is true."))
		start := time.Now()
		h.writer.Run(ctx, 3*time.Second)
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("drain took %v, more than its deadline", d)
		}
		if st := h.outbox.Stats(); st.Pending != 1 {
			t.Errorf("the undrainable turn is not queued for the next start: %+v", st)
		}
	})
}

// scriptedModel is a fake upstream answering the extractor's two prompts
// with scripted JSON, recording what it was asked.
type scriptedModel struct {
	up       *fakeupstream.Upstream
	mu       sync.Mutex
	facts    []string // answers to fact extraction, in turn
	decide   []string // answers to decisions, in turn
	asked    []string // the user content of every request
	factsN   int
	decideN  int
	requests atomic.Int64
}

func newScriptedModel(t *testing.T) *scriptedModel {
	m := &scriptedModel{up: fakeupstream.New()}
	m.up.Hook = func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.URL.Path != "/v1/chat/completions" {
			return false
		}
		m.requests.Add(1)
		var req struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		json.Unmarshal(body, &req)
		m.mu.Lock()
		m.asked = append(m.asked, req.Messages[len(req.Messages)-1].Content)
		var answer string
		if strings.Contains(req.Messages[0].Content, "extract durable facts") {
			answer = next(m.facts, &m.factsN)
		} else {
			answer = next(m.decide, &m.decideN)
		}
		m.mu.Unlock()
		resp, _ := json.Marshal(map[string]any{"id": "x", "object": "chat.completion", "model": "m",
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop", "message": map[string]any{"role": "assistant", "content": answer}}}})
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp)
		return true
	}
	return m
}

// inProcess hands each request to a handler in the caller's goroutine:
// no sockets, so the model can answer inside a synctest bubble, where a
// goroutine blocked on the network would keep the fake clock stopped.
type inProcess struct{ h http.Handler }

func (p inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	p.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

func next(answers []string, n *int) string {
	a := answers[min(*n, len(answers)-1)]
	*n++
	return a
}

func (m *scriptedModel) extractor(t *testing.T) *learn.LLMExtractor {
	e, err := learn.NewLLMExtractor(learn.LLMConfig{
		BaseURL: "http://model.test/v1", APIKey: "k", Model: "extractor",
		HTTPClient: &http.Client{Transport: inProcess{m.up}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// llmMode learns with the model e, by a policy whose default is llm mode.
func llmMode(e *learn.LLMExtractor) func(*learn.Service) {
	p := policies.Default()
	p.Learn.Mode = policies.ModeLLM
	return func(s *learn.Service) { s.LLM, s.Policies = e, policies.Static(p) }
}

// TestLLMUpdateKeepsBothValuesInHistory is the "I now run 10K" case: the
// model updates the old memory, and the history shows both values.
func TestLLMUpdateKeepsBothValuesInHistory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		model := newScriptedModel(t)
		model.facts = []string{`{"facts":["Runs 5K every week"]}`, `{"facts":["Runs 10K every week"]}`}
		model.decide = []string{`{"memory":[{"event":"UPDATE","id":"0","text":"Runs 10K every week"}]}`}
		h := newWriterHarness(t, nil, learn.WriterConfig{}, llmMode(model.extractor(t)))
		ctx := context.Background()
		if _, err := h.writer.Apply(ctx, []learn.Turn{turn("req_1", "sarah", "", "I run 5K every week.")}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.writer.Apply(ctx, []learn.Turn{turn("req_2", "sarah", "", "I now run 10K every week!")}); err != nil {
			t.Fatal(err)
		}
		ms, _ := h.store.List(ctx, memory.UserFilter("sarah"), memory.Page{})
		if len(ms) != 1 || ms[0].Text != "Runs 10K every week" {
			t.Fatalf("memories = %+v, want the one memory updated", ms)
		}
		hs, _ := h.store.History(ctx, ms[0].ID)
		if len(hs) != 2 || hs[0].Event != "ADD" || hs[0].NewText != "Runs 5K every week" ||
			hs[1].Event != "UPDATE" || hs[1].OldText != "Runs 5K every week" || hs[1].NewText != "Runs 10K every week" || hs[1].RequestID != "req_2" {
			t.Errorf("history = %+v, want ADD 5K then UPDATE 5K -> 10K", hs)
		}
		// The model saw the memory under a handle, never its id.
		model.mu.Lock()
		defer model.mu.Unlock()
		last := model.asked[len(model.asked)-1]
		if strings.Contains(last, ms[0].ID) || !strings.Contains(last, `"id":"0"`) {
			t.Errorf("the decision prompt must show handles, not ids: %s", last)
		}
	})
}

func TestLLMDeleteAndNone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		model := newScriptedModel(t)
		model.facts = []string{`{"facts":["Is vegetarian"]}`, `{"facts":["Eats fish now"]}`, `{"facts":["Likes green tea"]}`}
		model.decide = []string{`{"memory":[{"event":"DELETE","id":"0"}]}`, `{"memory":[{"event":"NONE","id":"0"}]}`}
		h := newWriterHarness(t, nil, learn.WriterConfig{}, llmMode(model.extractor(t)))
		ctx := context.Background()
		h.writer.Apply(ctx, []learn.Turn{turn("req_1", "sarah", "", "I'm vegetarian.")})
		ms, _ := h.store.List(ctx, memory.UserFilter("sarah"), memory.Page{})
		// The bubble's clock: the DELETE is recorded after the ADD, not at
		// the same instant (where the records' order is their ids').
		time.Sleep(time.Second)
		h.writer.Apply(ctx, []learn.Turn{turn("req_2", "sarah", "", "I eat fish now.")})
		if n := count(t, h.store, memory.UserFilter("sarah")); n != 0 {
			t.Errorf("after DELETE: %d memories", n)
		}
		hs, _ := h.store.History(ctx, ms[0].ID)
		if len(hs) != 2 || hs[1].Event != "DELETE" || hs[1].OldText != "Is vegetarian" {
			t.Errorf("history of the deleted memory = %+v", hs)
		}
	})
}

// TestLLMMalformedOutputLosesNoTurn: a model answering garbage, or ids
// that do not exist, fails the attempt; the turn is retried and lands when
// the model behaves.
func TestLLMMalformedOutputLosesNoTurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		model := newScriptedModel(t)
		model.facts = []string{`{"facts":["Has a dog named Rex"]}`, `not json at all`, "```json\n{\"facts\": [\"Has a cat named Tom\"]}\n```"}
		model.decide = []string{`{"memory":[{"event":"UPDATE","id":"7","text":"x"}]}`, `{"memory":[{"event":"ADD","text":"Has a cat named Tom"}]}`}
		h := newWriterHarness(t, nil, learn.WriterConfig{BaseBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}, llmMode(model.extractor(t)))
		h.writer.Apply(context.Background(), []learn.Turn{turn("req_0", "sarah", "", "I have a dog named Rex.")})
		h.run(time.Second)
		if err := h.writer.Enqueue(turn("req_1", "sarah", "", "I also have a cat named Tom.")); err != nil {
			t.Fatal(err)
		}
		// Attempt 1: not JSON. Attempt 2: an id the model was never shown.
		// Attempt 3: a fenced JSON answer, then a good decision.
		waitFor(t, 5*time.Second, "the turn to land", func() bool { return h.outbox.Stats().Pending == 0 })
		if st := h.outbox.Stats(); st.Dead != 0 || count(t, h.store, memory.UserFilter("sarah")) != 2 {
			t.Errorf("outbox after recovery: %+v", st)
		}
		ms, _ := h.store.List(context.Background(), memory.UserFilter("sarah"), memory.Page{})
		if ms[0].Text != "Has a cat named Tom" || ms[1].Text != "Has a dog named Rex" {
			t.Errorf("memories = %q, %q", ms[0].Text, ms[1].Text)
		}
	})
}

// TestEchoedMemoryIsNotLearnedAgain: the model's extraction returns, word
// for word, a memory that was recalled into the request; it is known.
func TestEchoedMemoryIsNotLearnedAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		model := newScriptedModel(t)
		model.facts = []string{`{"facts":["Goal: half marathon by June"]}`}
		h := newWriterHarness(t, nil, learn.WriterConfig{}, llmMode(model.extractor(t)))
		ctx := context.Background()
		h.svc.Add(ctx, memory.AddRequest{Scope: memory.Scope{UserID: "sarah"}, Messages: []memory.Message{{Role: "user", Content: "Goal: half marathon by June"}}})
		ev, err := h.writer.Apply(ctx, []learn.Turn{{ID: "req_1", Identity: memory.Identity{UserID: "sarah"},
			UserMessages: []string{"Just finished my run!"}, Assistant: "Great - your goal: half marathon by June!"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev) != 1 || ev[0].Kind != memory.EventNone {
			t.Errorf("events = %+v, want NONE", ev)
		}
		if n := count(t, h.store, memory.UserFilter("sarah")); n != 1 {
			t.Errorf("%d memories, want the original only", n)
		}
	})
}

// TestDebounceExtractsAConversationOnce: three quick turns of one
// conversation are extracted in one model call.
func TestDebounceExtractsAConversationOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		model := newScriptedModel(t)
		model.facts = []string{`{"facts":["Lives in Lyon","Has a sister named Anna","Works as a nurse"]}`}
		h := newWriterHarness(t, nil, learn.WriterConfig{Debounce: 300 * time.Millisecond}, llmMode(model.extractor(t)))
		h.run(time.Second)
		for i, m := range []string{"I live in Lyon.", "My sister is Anna.", "I work as a nurse."} {
			h.writer.Enqueue(turn(fmt.Sprint("req_", i), "sarah", "coach", m))
			time.Sleep(50 * time.Millisecond) // fake time
		}
		waitFor(t, 5*time.Second, "the conversation to be learned", func() bool { return count(t, h.store, memory.UserFilter("sarah")) == 3 })
		if n := model.requests.Load(); n != 1 {
			t.Errorf("the model was called %d times for one conversation, want 1", n)
		}
		model.mu.Lock()
		defer model.mu.Unlock()
		for _, want := range []string{"Lyon", "Anna", "nurse"} {
			if !strings.Contains(model.asked[0], want) {
				t.Errorf("the one extraction did not see %q: %s", want, model.asked[0])
			}
		}
	})
}

// overlapStore fails the test if two writes for one user overlap.
type overlapStore struct {
	memory.Store
	t      *testing.T
	mu     sync.Mutex
	active map[string]bool
}

func (o *overlapStore) AddHistory(ctx context.Context, rs ...memory.HistoryRecord) error {
	user := rs[0].UserID
	o.mu.Lock()
	if o.active[user] {
		o.t.Errorf("two batches of user %s applied at once", user)
	}
	o.active[user] = true
	o.mu.Unlock()
	time.Sleep(2 * time.Millisecond) // widen the window (fake time in the bubble)
	err := o.Store.AddHistory(ctx, rs...)
	o.mu.Lock()
	o.active[user] = false
	o.mu.Unlock()
	return err
}

// TestOneBatchPerConversationAtATime enqueues from many goroutines at once
// (so that the outbox hands out sequence numbers out of call order) and
// checks that no conversation ever has two batches in flight.
func TestOneBatchPerConversationAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &overlapStore{Store: newStore(t, embed.NewHash(0)), t: t, active: map[string]bool{}}
		h := newWriterHarness(t, st, learn.WriterConfig{Workers: 4})
		h.run(time.Second)
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Go(func() {
				if err := h.writer.Enqueue(turn(fmt.Sprint("req_", i), fmt.Sprint("user-", i%3), "", fmt.Sprintf("Fact %d about me is true.", i))); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		waitFor(t, 10*time.Second, "all turns to be learned", func() bool { return h.outbox.Stats().Pending == 0 })
		if n := count(t, h.store, memory.Filter{}); n != 60 {
			t.Errorf("%d memories, want 60", n)
		}
	})
}

// poisonStore refuses any memory whose text holds "POISON", as a store
// refuses a record it can never take.
type poisonStore struct{ memory.Store }

func (p poisonStore) Add(ctx context.Context, ms ...memory.Memory) error {
	for _, m := range ms {
		if strings.Contains(m.Text, "POISON") {
			return errors.New("record rejected")
		}
	}
	return p.Store.Add(ctx, ms...)
}

// TestATurnThatCannotBeAppliedGoesToTheDeadLettersAlone queues three turns
// of one conversation, the middle one unstorable: the other two land, in
// order, and only the middle one becomes a dead letter.
func TestATurnThatCannotBeAppliedGoesToTheDeadLettersAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newWriterHarness(t, poisonStore{newStore(t, embed.NewHash(0))},
			learn.WriterConfig{MaxAttempts: 3, BaseBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
		for i, msg := range []string{"I keep bees on my roof.", "My password hint is POISON.", "I sail on weekends."} {
			if err := h.writer.Enqueue(turn(fmt.Sprint("req_", i), "sarah", "coach", msg)); err != nil {
				t.Fatal(err)
			}
		}
		h.run(time.Second)
		waitFor(t, 10*time.Second, "the queue to settle", func() bool {
			st := h.outbox.Stats()
			return st.Pending == 0 && st.Dead == 1
		})
		dead, err := h.outbox.DeadLetters()
		if err != nil || len(dead) != 1 || dead[0].Turn.ID != "req_1" || dead[0].Attempts != 3 {
			t.Fatalf("dead letters = %+v, %v; want req_1 alone after 3 attempts", dead, err)
		}
		ms, err := h.store.List(context.Background(), memory.UserFilter("sarah"), memory.Page{})
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, m := range ms {
			texts = append(texts, m.Text)
		}
		slices.Sort(texts)
		if strings.Join(texts, "|") != "I keep bees on my roof.|I sail on weekends." {
			t.Errorf("memories = %q, want the two good turns", texts)
		}
	})
}

// hangingStore blocks every write until its context is done, like a store
// that stopped answering.
type hangingStore struct {
	memory.Store
	entered chan struct{}
}

func (s hangingStore) Add(ctx context.Context, ms ...memory.Memory) error {
	select {
	case s.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestShutdownCutsABatchInHandAndKeepsIt stops the writer while a batch
// hangs on the store: Run returns at the drain deadline, and the cut turn
// stays queued without the attempt counting against it.
func TestShutdownCutsABatchInHandAndKeepsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := newStore(t, embed.NewHash(0))
		hang := hangingStore{Store: base, entered: make(chan struct{}, 1)}
		h := newWriterHarness(t, hang, learn.WriterConfig{MaxAttempts: 2, BaseBackoff: time.Hour})
		if err := h.writer.Enqueue(turn("req_1", "sarah", "", "I keep bees on my roof.")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { h.writer.Run(ctx, 300*time.Millisecond); close(done) }()
		<-hang.entered
		start := time.Now()
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return at the drain deadline while a batch hung")
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
			t.Errorf("Run returned %v after the stop; the drain deadline is 300ms", d)
		}
		if st := h.outbox.Stats(); st.Pending != 1 || st.InFlight != 0 || st.Dead != 0 {
			t.Fatalf("after the cut: %+v, want the turn pending, not in flight", st)
		}
		// Had the cut counted, one more failure would make it a dead letter
		// (MaxAttempts 2). A failing store now: one failure, still pending.
		flaky := &flakyStore{Store: base}
		flaky.down.Store(true)
		w := learn.NewWriter(&learn.Service{Store: flaky, Embedder: embed.NewHash(0), MinChars: 8}, h.outbox,
			learn.WriterConfig{MaxAttempts: 2, BaseBackoff: time.Hour}, nil)
		ctx, cancel = context.WithCancel(context.Background())
		done = make(chan struct{})
		go func() { w.Run(ctx, 100*time.Millisecond); close(done) }()
		waitFor(t, 5*time.Second, "a failed attempt", func() bool { return flaky.calls.Load() > 0 && h.outbox.Stats().InFlight == 0 })
		cancel()
		<-done
		if st := h.outbox.Stats(); st.Pending != 1 || st.Dead != 0 {
			t.Errorf("after one real failure: %+v; the cut was counted as an attempt", st)
		}
	})
}
