package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestAssembledSidecarKeepsItsPathsAndKey: the sidecar as the binary runs
// it refuses its own paths spelt otherwise, and forwards nothing that
// carries the memory API key; ids and bodies follow one rule.
func TestAssembledSidecarKeepsItsPathsAndKey(t *testing.T) {
	s := startSidecar(t, nil)
	raw := func(method, path string, header string) int {
		t.Helper()
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: sidecar\r\nConnection: close\r\n%sContent-Length: 2\r\n\r\n{}", method, path, header)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	key := "Authorization: Token " + apiKey + "\r\n"
	for _, p := range []string{"//v1/memories/", "/v1/./memories/", "/V1/memories/", "/MEMPROXY/outbox", "/v1/memories;x/", "/v1%5cmemories/", "/v1/x/%2e%2e/memories/"} {
		for _, m := range []string{"GET", "POST", "DELETE"} {
			if code := raw(m, p, key); code != 400 {
				t.Errorf("%s %s: %d, want 400", m, p, code)
			}
		}
	}
	raw("GET", "/v1/models", "Authorization: Bearer "+apiKey+"\r\n")
	raw("GET", "/v1/models", "X-Api-Key: "+apiKey+"\r\n")
	for _, r := range s.up.Requests() {
		if r.Path != "/v1/models" {
			t.Errorf("the upstream received %s %s", r.Method, r.Path)
		}
		for k, vs := range r.Header {
			if strings.Contains(strings.Join(vs, " "), apiKey) {
				t.Errorf("the upstream received the memory key in %s at %s", k, r.Path)
			}
		}
	}
	if code, body := s.do("POST", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, map[string]string{"X-Memory-User-Id": "*"}); code != 400 || !strings.Contains(body, "wildcard") {
		t.Errorf("user *: %d %s", code, body)
	}
	tok := map[string]string{"Authorization": "Token " + apiKey}
	if code, body := s.do("POST", "/v1/memories/", `{"messages":"I like tea","user_id":"sarah "}`, tok); code != 400 || !strings.Contains(body, "whitespace") {
		t.Errorf("user \"sarah \": %d %s", code, body)
	}
	if code, body := s.do("POST", "/v1/memories/", `{"messages":"I like tea","user_id":"sarah","user_id":"mike"}`, tok); code != 400 || !strings.Contains(body, "twice") {
		t.Errorf("a key given twice: %d %s", code, body)
	}
}
