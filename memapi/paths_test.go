package memapi

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// rawRequest sends method and path to the sidecar exactly as written, in
// the request line of an HTTP/1.1 request: an HTTP client would clean or
// escape what these tests need to send as it is.
func (h *harness) rawRequest(method, path string, header map[string]string) (*http.Response, string) {
	h.T.Helper()
	conn, err := net.Dial("tcp", h.Srv.Listener.Addr().String())
	if err != nil {
		h.T.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: sidecar\r\nConnection: close\r\nContent-Type: application/json\r\n", method, path)
	for k, v := range header {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	body := `{"query":"x","filters":{"user_id":"sarah"},"messages":"x","user_id":"sarah"}`
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		h.T.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		h.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	return resp, string(got)
}

// ownPathSpellings are the sidecar's own paths spelt as a server, a
// proxy or an upstream might read them: every one is the sidecar's, so
// none may be forwarded, with or without the memory API key.
var ownPathSpellings = []string{
	"//v1/memories/",
	"/v1//memories/",
	"/v1/./memories/",
	"/v1/chat/../memories/",
	"/V1/memories/",
	"/v1/MEMORIES/",
	"/MEMPROXY/outbox",
	"/v1/memories;x/",
	"/v1/memories..;/",
	"/v1%2fmemories/",
	"/v1%2Fmemories%2F",
	"/v1/%6demories/",
	"/v1\\memories\\",
	"/v1%5cmemories/",
	"/v1/memories./",
	"/v1/memories%2e/",
	"/v1/x/%2e%2e/memories/",
	"/v1/x/%2e%2e%2fmemories/",
	"/v1/x/%252e%252e/memories/",
	"/v1/memories%00/",
	"/v1/memories%20/",
	"/./memproxy/outbox",
	"/memproxy//explain",
	"/v2//memories/search/",
	"/v1/ping;/",
	"/V1/PING",
	"/v1/entities/./",
	"/v3/memories/add/.",
	"/v1/batch;jsessionid=1/",
	"/%ef%bd%961/memories/", // a fullwidth v
	"/v1/memories/../models",
	"/v1/batch//..",
}

// TestOwnPathsAreNeverForwarded: a path that is the sidecar's own, in any
// spelling, is served or refused; it never reaches the upstream, and the
// memory API key with it.
func TestOwnPathsAreNeverForwarded(t *testing.T) {
	h := newHarness(t)
	leaked := 0
	for _, path := range ownPathSpellings {
		forwarded := false
		for _, method := range []string{"GET", "POST", "DELETE"} {
			before := len(h.Up.Requests())
			resp, body := h.rawRequest(method, path, token(testKey))
			reqs := h.Up.Requests()[before:]
			for _, r := range reqs {
				forwarded = true
				t.Errorf("%s %s was forwarded as %s %s with Authorization %q", method, path, r.Method, r.Path, r.Header.Get("Authorization"))
			}
			if len(reqs) == 0 && resp.StatusCode != 400 && resp.StatusCode/100 != 2 && resp.StatusCode != 404 && resp.StatusCode != 501 {
				t.Errorf("%s %s: %d %s", method, path, resp.StatusCode, body)
			}
			if resp.StatusCode == 400 && !strings.Contains(body, `"detail"`) {
				t.Errorf("%s %s: a 400 that does not say why: %s", method, path, body)
			}
		}
		if forwarded {
			leaked++
		}
	}
	t.Logf("%d of %d spellings of the sidecar's own paths were forwarded upstream", leaked, len(ownPathSpellings))
}

// TestMemoryKeyNeverForwarded: whatever path a request takes upstream, a
// memory API key in its headers, in any scheme, is removed first.
func TestMemoryKeyNeverForwarded(t *testing.T) {
	h := newHarness(t)
	for _, hdr := range []map[string]string{
		token(testKey),
		{"Authorization": "Bearer " + testKey},
		{"Authorization": testKey},
		{"Authorization": "token  " + testKey + " "},
		{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+testKey))},
		{"X-Api-Key": testKey},
		{"Api-Key": testKey},
		{"Proxy-Authorization": "Bearer " + testKey},
	} {
		for _, path := range []string{"/v1/models", "/v1/embeddings", "/v1/files/x"} {
			before := len(h.Up.Requests())
			h.Do("GET", path, "", hdr)
			for _, r := range h.Up.Requests()[before:] {
				for k, vs := range r.Header {
					for _, v := range vs {
						if strings.Contains(v, testKey) || strings.Contains(v, base64.StdEncoding.EncodeToString([]byte("user:"+testKey))) {
							t.Errorf("%s with %v: the upstream received %s: %s", path, hdr, k, v)
						}
					}
				}
			}
		}
	}
	// Another Authorization (the app's upstream key) still passes through.
	h.Do("GET", "/v1/models", "", map[string]string{"Authorization": "Bearer sk-upstream"})
	if got := h.Received("/v1/models").Header.Get("Authorization"); got != "Bearer sk-upstream" {
		t.Errorf("the app's own key did not pass: Authorization %q", got)
	}
}
