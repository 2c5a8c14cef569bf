package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want string // in the error; "" for none
	}{
		{"sarah", ""},
		{"sàràh ☃", ""}, // inner blanks are the id's own
		{"👨‍👩‍👧", ""},   // joiners inside an emoji sequence
		{"*x", ""},
		{"**", ""},
		{"*", "wildcard"},
		{"sarah ", "whitespace"},
		{" sarah", "whitespace"},
		{"sarah\u00a0", "whitespace"},
		{"\u3000sarah", "whitespace"},
		{"sarah\u200b", "invisible"},
		{"\ufeffsarah", "invisible"},
		{"sa\x00rah", "control"},
	} {
		err := CheckID(tc.id)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckID(%q) = %v, want nil", tc.id, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckID(%q) = %v, want an error saying %q", tc.id, err, tc.want)
		}
	}
}

// TestIDsOneRuleOnEveryChannel: an id with leading or trailing
// whitespace, or exactly "*", is refused from a header and from the body,
// with a 400 that says why; nothing reaches the upstream.
func TestIDsOneRuleOnEveryChannel(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Identity.FromBody = true })
	for _, tc := range []struct {
		name   string
		header map[string]string
		body   string
		want   string
	}{
		{"user *", ids("*", ""), chatBody("hi"), "wildcard"},
		{"agent *", ids("sarah", "*"), chatBody("hi"), "wildcard"},
		{"run *", with(ids("sarah", ""), "X-Memory-Run-Id", "*"), chatBody("hi"), "wildcard"},
		{"no-break space", ids("sarah\u00a0", ""), chatBody("hi"), "whitespace"},
		{"ideographic space", ids("\u3000sarah", ""), chatBody("hi"), "whitespace"},
		{"zero-width space", ids("sarah\u200b", ""), chatBody("hi"), "invisible"},
		{"body user with a blank", nil, `{"model":"m","user":"sarah ","messages":[{"role":"user","content":"hi"}]}`, "whitespace"},
		{"body user *", nil, `{"model":"m","user":"*","messages":[{"role":"user","content":"hi"}]}`, "wildcard"},
		{"safety_identifier with a tab", nil, `{"model":"m","safety_identifier":"\tsarah","messages":[{"role":"user","content":"hi"}]}`, "whitespace"},
	} {
		before := len(h.Up.Requests())
		resp, body := h.Do("POST", "/v1/chat/completions", tc.body, tc.header)
		if resp.StatusCode != 400 || !strings.Contains(body, "invalid_identity") || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 400 saying %q", tc.name, resp.StatusCode, body, tc.want)
		}
		if len(h.Up.Requests()) != before {
			t.Errorf("%s: a refused request reached the upstream", tc.name)
		}
	}
}

// TestHeaderBlanksAreNotPartOfTheID: HTTP says the blanks around a header
// value are not part of it, and net/http drops them before the sidecar
// sees the header (checked here on the wire): "X-Memory-User-Id: sarah "
// is sarah, never a second user "sarah ", which every other channel
// refuses.
func TestHeaderBlanksAreNotPartOfTheID(t *testing.T) {
	h := newHarness(t)
	h.Add(goal, memory.Scope{UserID: "sarah"}, nil)
	for _, raw := range []string{"sarah ", " sarah", "\tsarah\t", "sarah  \t "} {
		conn, err := net.Dial("tcp", h.Srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		body := chatBody("How is my training going?")
		fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: sidecar\r\nConnection: close\r\nContent-Type: application/json\r\n"+
			"X-Memory-User-Id: %s\r\nX-Memory-Mode: read\r\nContent-Length: %d\r\n\r\n%s", raw, len(body), body)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != 200 || !strings.Contains(h.block(), "half marathon") {
			t.Errorf("header %q: %d, recalled %q; want sarah's memory", raw, resp.StatusCode, h.block())
		}
	}
}
