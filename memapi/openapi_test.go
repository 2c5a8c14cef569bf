package memapi

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
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
