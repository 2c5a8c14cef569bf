package memapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/proxy"
)

// TestOpenAPIDescribesEveryRoute: the document is served without a key,
// is OpenAPI 3.1, and describes every memory route with its method.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	h := newHarness(t)
	resp, body := h.Do("GET", "/memproxy/openapi.json", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	routes := append([]struct{ method, path string }{{"GET", "/v1/ping/"}}, func() (rs []struct{ method, path string }) {
		for _, r := range memoryRoutes {
			rs = append(rs, struct{ method, path string }{r.method, r.path})
		}
		return rs
	}()...)
	param := regexp.MustCompile(`:(\w+)`)
	for _, r := range routes {
		p := param.ReplaceAllString(r.path, "{$1}")
		raw, ok := doc.Paths[p][strings.ToLower(r.method)]
		if !ok {
			t.Errorf("the OpenAPI document lacks %s %s", r.method, p)
			continue
		}
		var op map[string]any
		if err := json.Unmarshal(raw, &op); err != nil || op["responses"] == nil || op["summary"] == nil {
			t.Errorf("%s %s has no summary or responses", r.method, p)
		}
	}
}

// TestOpenAPIDescribesTheInspector: every route the memory inspector
// serves but its pages and assets is in the document with its method.
func TestOpenAPIDescribesTheInspector(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	e := gin.New()
	New(Options{}).Register(e)
	param := regexp.MustCompile(`:(\w+)`)
	n := 0
	for _, r := range e.Routes() {
		if !strings.HasPrefix(r.Path, "/memproxy/ui/") || strings.HasPrefix(r.Path, "/memproxy/ui/static") || r.Path == "/memproxy/ui/" {
			continue
		}
		n++
		p := param.ReplaceAllString(r.Path, "{$1}")
		if _, ok := doc.Paths[p][strings.ToLower(r.Method)]; !ok {
			t.Errorf("the OpenAPI document lacks the inspector's %s %s", r.Method, p)
		}
	}
	if n < 10 {
		t.Errorf("only %d inspector routes found: is the inspector mounted?", n)
	}
}

// TestOpenAPIDescribesEverySidecarRoute walks the routes of the whole
// sidecar's engine (the chat proxy with this API plugged in, metrics on)
// and fails on any the document lacks: a route added anywhere without
// its description fails here. Left out: the chat routes, which are the
// upstream's API (OpenAI documents them), and the inspector's page (with
// the redirect to it) and assets. A memory route without its trailing slash is the same
// operation as the one with it, which the document describes.
func TestOpenAPIDescribesEverySidecarRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	server := proxy.New(proxy.Options{
		API:            New(Options{}),
		MetricsHandler: http.NotFoundHandler(),
	})
	upstreamAPI := map[string]bool{"POST /v1/chat/completions": true, "POST /v1/responses": true}
	param := regexp.MustCompile(`:(\w+)`)
	seen := map[string]bool{}
	for _, r := range server.Routes() {
		if upstreamAPI[r.Method+" "+r.Path] || r.Path == "/memproxy/ui" || r.Path == "/memproxy/ui/" || strings.HasPrefix(r.Path, "/memproxy/ui/static") {
			continue
		}
		p := param.ReplaceAllString(r.Path, "{$1}")
		method := strings.ToLower(r.Method)
		if _, ok := doc.Paths[p][method]; ok {
			seen[r.Method+" "+p] = true
			continue
		}
		if _, ok := doc.Paths[p+"/"][method]; ok && !strings.HasSuffix(p, "/") {
			continue
		}
		t.Errorf("the OpenAPI document lacks %s %s, which the sidecar serves", r.Method, p)
	}
	// The walk reached every kind of route: a test that found none would
	// pass whatever the document says.
	for _, want := range []string{"GET /healthz", "GET /readyz", "GET /metrics", "GET /memproxy/outbox",
		"GET /memproxy/explain", "GET /v1/ping/", "POST /v1/memories/", "GET /memproxy/ui/api/entities"} {
		if !seen[want] {
			t.Errorf("%s is not among the routes walked (or not documented)", want)
		}
	}
}
