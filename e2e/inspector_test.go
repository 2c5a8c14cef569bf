package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// inspectorShots, when set, is the directory the browser test writes its
// screenshots of the inspector to (docs/inspector-*.png):
//
//	go test ./e2e -run TestInspectorInABrowser -inspector.screenshots=../docs
var inspectorShots = flag.String("inspector.screenshots", "", "write screenshots of the memory inspector to this directory")

// chromium returns the headless Chromium to drive: MEMPROXY_TEST_CHROMIUM,
// or chromium on the PATH. scripts/test.sh installs Debian's package.
func chromium(t *testing.T) string {
	t.Helper()
	path := os.Getenv("MEMPROXY_TEST_CHROMIUM")
	if path == "" {
		path = "chromium"
	}
	return sdkTool(t, path, "Chromium (MEMPROXY_TEST_CHROMIUM)")
}

// browser starts a headless Chromium of the test's own and returns a
// context that drives one tab of it.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		// Root in a container has no user namespaces to sandbox with; the
		// browser only ever opens the test's own sidecar.
		chromedp.NoSandbox,
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	// The first Run starts the browser, for as long as ctx lives.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// addMemory stores text as it is (infer off) through the memory API.
func (s *sidecar) addMemory(scope map[string]any, text string) {
	s.t.Helper()
	body := map[string]any{"messages": []map[string]string{{"role": "user", "content": text}}, "infer": false}
	for k, v := range scope {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	if code, out := s.do("POST", "/v1/memories/", string(b), map[string]string{"Authorization": "Token " + apiKey}); code != 200 {
		s.t.Fatalf("adding %q: %d %s", text, code, out)
	}
}

const (
	personaText = "I am FitCoach: supportive, and I celebrate small wins"
	goalText    = "Sarah is training for a half marathon in June"
	runText     = "Sarah runs 5K every Saturday morning"
	relText     = "Sarah responds best to gentle encouragement"
	xssText     = `<img src=x onerror="document.title='pwned'"><script>document.title='pwned'</script>`
)

// TestInspectorInABrowser drives the memory inspector in headless
// Chromium as an operator would: log in, find sarah, see her memories by
// layer, search, open a history, delete a memory, preview what would be
// injected for sarah and fitcoach_v1. It waits on the page, never on a
// clock.
func TestInspectorInABrowser(t *testing.T) {
	ctx := browser(t)
	s := startSidecar(t, nil)
	s.addMemory(map[string]any{"agent_id": "fitcoach_v1"}, personaText)
	s.addMemory(map[string]any{"user_id": "sarah"}, goalText)
	s.addMemory(map[string]any{"user_id": "sarah"}, runText)
	s.addMemory(map[string]any{"user_id": "sarah", "metadata": map[string]any{"agent_id": "fitcoach_v1"}}, relText)
	s.addMemory(map[string]any{"user_id": "sarah"}, xssText)
	s.addMemory(map[string]any{"user_id": "mike"}, "Mike lifts weights on Mondays")
	ui := s.url + "/memproxy/ui/"
	// Each step is bounded generously: a busy machine must not fail the
	// test; a hung page still ends it.
	const stepTimeout = time.Minute
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		v, err := chromedp.Run(sctx, chromedp.TextContent(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return v
	}
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if *inspectorShots == "" {
				return nil
			}
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(*inspectorShots, "inspector-"+name+".png"), png, 0o644)
		})
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	id := func(sel string) chromedp.ID { return chromedp.ID(sel) }

	// A wrong key is refused; the right one logs in.
	step("wrong key",
		chromedp.Navigate(ui),
		chromedp.WaitVisible(id("key")),
		chromedp.SendKeys(id("key"), "not-the-key"),
		chromedp.Click(id("login")),
		chromedp.WaitVisible(id("login-error")),
	)
	if e := text("#login-error"); !strings.Contains(e, "not a memory API key") {
		t.Errorf("login error: %q", e)
	}
	step("log in",
		chromedp.SendKeys(id("key"), apiKey),
		chromedp.Click(id("login")),
		chromedp.WaitVisible(id("entity-q")),
		chromedp.WaitVisible(css(`#entities tr[data-name="mike"]`)),
		shot("entities"),
	)

	// Find sarah.
	if counts := text("#entity-counts"); !strings.Contains(counts, "2 users") || !strings.Contains(counts, "1 agents") {
		t.Errorf("entity counts: %q", counts)
	}
	step("find sarah",
		chromedp.SendKeys(id("entity-q"), "sar"),
		chromedp.WaitNotPresent(css(`#entities tr[data-name="mike"]`)),
		chromedp.Click(css(`#entities tr[data-name="sarah"] a`)),
	)

	// Her memories by layer, user text shown as text.
	relationship := `#layers section[data-layer="relationship"][data-agent="fitcoach_v1"]`
	step("sarah's layers", chromedp.WaitVisible(css(relationship+" li.memory")), shot("user"))
	persona := text(`#layers section[data-layer="persona"][data-agent="fitcoach_v1"]`)
	facts := text(`#layers section[data-layer="user"]`)
	rel := text(relationship)
	for _, c := range []struct{ layer, text, want string }{
		{"persona", persona, personaText}, {"user", facts, goalText}, {"user", facts, runText},
		{"user", facts, xssText}, {"relationship", rel, relText},
	} {
		if !strings.Contains(c.text, c.want) {
			t.Errorf("the %s layer lacks %q:\n%s", c.layer, c.want, c.text)
		}
	}
	if strings.Contains(facts, relText) || strings.Contains(rel, goalText) {
		t.Errorf("a relationship memory is shown as a user fact, or the other way round")
	}
	if n := eval(`String(document.querySelectorAll("#layers img, #layers script").length)`); n != "0" || eval("document.title") == "pwned" {
		t.Errorf("a memory's text was rendered as markup: %s elements, title %q", n, eval("document.title"))
	}

	// Search, with scores, and a memory's history.
	step("search",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#search"`),
		chromedp.WaitVisible(id("search-q")),
		chromedp.SendKeys(id("search-q"), "half marathon"),
		chromedp.SendKeys(id("search-user"), "sarah"),
		chromedp.Click(id("search-go")),
		chromedp.WaitVisible(css("#search-results tr.hit")),
		shot("search"),
	)
	if hit, score := text("#search-results tr.hit td.memory-text"), text("#search-results tr.hit td.score"); hit != goalText || score == "" || score == "0.000" {
		t.Errorf("the best hit for half marathon: %q with score %q", hit, score)
	}
	step("history",
		chromedp.Click(css("#search-results tr.hit button.history")),
		chromedp.WaitVisible(css("#history tbody tr")),
		shot("history"),
	)
	if h := text("#history-dialog"); !strings.Contains(h, "ADD") || !strings.Contains(h, goalText) {
		t.Errorf("history:\n%s", h)
	}
	step("close the history",
		chromedp.Click(id("history-close")),
		chromedp.WaitNotVisible(id("history-dialog")),
	)

	// Delete a memory, confirmed.
	item := `//section[@data-layer="user"]//li[span[@class="memory-text" and text()="` + runText + `"]]`
	step("delete a memory",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#user=sarah"`),
		chromedp.WaitVisible(item),
		chromedp.Click(item+`//button[contains(@class,"delete")]`),
		chromedp.WaitVisible(id("confirm-yes")),
		chromedp.Click(id("confirm-yes")),
		chromedp.WaitNotPresent(item),
		chromedp.WaitVisible(css(`#layers section[data-layer="user"] li.memory`)),
	)
	code, body := s.do("POST", "/v2/memories/", `{"filters":{"user_id":"sarah"}}`, map[string]string{"Authorization": "Token " + apiKey})
	if code != 200 || strings.Contains(body, runText) || !strings.Contains(body, goalText) {
		t.Errorf("after the delete the memory API lists: %d %s", code, body)
	}

	// What would be injected for sarah and fitcoach_v1: the block the
	// model then receives.
	const message = "How should I train for my half marathon this week?"
	step("what would be injected",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#inject"`),
		chromedp.WaitVisible(id("inject-user")),
		chromedp.SendKeys(id("inject-user"), "sarah"),
		chromedp.SendKeys(id("inject-agent"), "fitcoach_v1"),
		chromedp.SendKeys(id("inject-message"), message),
		chromedp.Click(id("inject-go")),
		chromedp.WaitVisible(id("inject-block")),
		shot("inject"),
	)
	block := text("#inject-block")
	for _, want := range []string{personaText, goalText, relText} {
		if !strings.Contains(block, want) {
			t.Errorf("the previewed block lacks %q:\n%s", want, block)
		}
	}
	if rule := text("#inject-rule"); rule == "" {
		t.Error("no policy rule shown")
	}
	s.do("POST", "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"`+message+`"}]}`,
		map[string]string{"X-Memory-User-Id": "sarah", "X-Memory-Agent-Id": "fitcoach_v1", "X-Memory-Mode": "read"})
	sent, _ := s.up.Last("/v1/chat/completions")
	var req struct {
		Messages []struct{ Role, Content string }
	}
	if err := json.Unmarshal(sent.Body, &req); err != nil || len(req.Messages) == 0 || req.Messages[0].Role != "system" {
		t.Fatalf("the upstream received: %s (%v)", sent.Body, err)
	}
	if !strings.Contains(req.Messages[0].Content, strings.TrimSpace(block)) {
		t.Errorf("the model received a different block:\n%s\n--- previewed:\n%s", req.Messages[0].Content, block)
	}

	// Edit a memory.
	goal := `//section[@data-layer="user"]//li[span[@class="memory-text" and text()="` + goalText + `"]]`
	const newGoal = "Sarah is training for a full marathon in October"
	step("edit a memory",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#user=sarah"`),
		chromedp.WaitVisible(goal),
		chromedp.Click(goal+`//button[contains(@class,"edit")]`),
		chromedp.WaitVisible(id("edit-text")),
		chromedp.SetValue(id("edit-text"), newGoal),
		chromedp.Click(id("edit-save")),
		chromedp.WaitVisible(`//section[@data-layer="user"]//span[@class="memory-text" and text()="`+newGoal+`"]`),
	)

	// Delete all of mike's memories: only once his id is typed.
	step("delete a user",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#user=mike"`),
		chromedp.WaitVisible(css(`#layers section[data-layer="user"] li.memory`)),
		chromedp.Click(id("user-delete")),
		chromedp.WaitVisible(id("confirm-typed")),
	)
	if disabled := eval(`String(document.getElementById("confirm-yes").disabled)`); disabled != "true" {
		t.Errorf("the delete is enabled before the user id is typed")
	}
	step("type the user id",
		chromedp.SendKeys(id("confirm-typed"), "mike"),
		chromedp.WaitEnabled(id("confirm-yes")),
		chromedp.Click(id("confirm-yes")),
		chromedp.WaitVisible(id("entity-q")),
		// Clear the search for sarah: every entity is listed again.
		chromedp.Evaluate[chromedp.Void](`{ const q = document.getElementById("entity-q"); q.value = ""; q.dispatchEvent(new Event("input")); }`),
		chromedp.Poll[chromedp.Void](`document.getElementById("entity-counts").textContent.startsWith("1 users · 1 agents")`),
		chromedp.WaitVisible(css(`#entities tr[data-name="sarah"]`)),
	)
	if n := eval(`String(document.querySelectorAll('#entities tr[data-name="mike"]').length)`); n != "0" {
		t.Errorf("mike is still listed after his memories were deleted")
	}
	if code, body := s.do("POST", "/v2/memories/", `{"filters":{"user_id":"mike"}}`, map[string]string{"Authorization": "Token " + apiKey}); code != 200 || strings.Contains(body, "Mike lifts") {
		t.Errorf("mike's memories after the delete: %d %s", code, body)
	}

	// The outbox, then log out.
	step("outbox",
		chromedp.Evaluate[chromedp.Void](`location.hash = "#outbox"`),
		chromedp.Poll[chromedp.Void](`document.getElementById("outbox-stats").textContent !== ""`),
		shot("outbox"),
	)
	if stats := text("#outbox-stats"); !strings.Contains(stats, "pending") || !strings.Contains(stats, "dead letters") {
		t.Errorf("outbox: %q", stats)
	}
	step("log out",
		chromedp.Click(id("logout")),
		chromedp.WaitVisible(id("key")),
	)
}
