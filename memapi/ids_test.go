package memapi

import (
	"strings"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

// TestIDsOneRuleOnEveryChannel: the memory API refuses, with a 400 that
// says why, an id with leading or trailing whitespace or exactly "*",
// whether it comes in the body, its filters, the query string or the
// path; "*" keeps its meaning as the filters' wildcard.
func TestIDsOneRuleOnEveryChannel(t *testing.T) {
	h := newHarness(t)
	h.Add("Sarah's goal: half marathon by June", memory.Scope{UserID: "sarah"}, nil)
	h.Add("Mike benches 185", memory.Scope{UserID: "mike"}, nil)
	before := h.snapshot()
	for _, tc := range []struct {
		name, method, path, body, want string
	}{
		{"add: trailing blank", "POST", "/v1/memories/", `{"messages":"I like tea","user_id":"sarah "}`, "whitespace"},
		{"add: leading blank", "POST", "/v1/memories/", `{"messages":"I like tea","user_id":" sarah"}`, "whitespace"},
		{"add: tab", "POST", "/v1/memories/", `{"messages":"I like tea","user_id":"sarah\t"}`, "whitespace"},
		{"add: no-break space", "POST", "/v1/memories/", `{"messages":"I like tea","user_id":"sarah\u00a0"}`, "whitespace"},
		{"add: zero-width space", "POST", "/v1/memories/", `{"messages":"I like tea","user_id":"\u200bsarah"}`, "invisible"},
		{"add: user *", "POST", "/v1/memories/", `{"messages":"I like tea","user_id":"*"}`, "wildcard"},
		{"add: agent *", "POST", "/v1/memories/", `{"messages":"I am a coach","agent_id":"*"}`, "wildcard"},
		{"add v3: run *", "POST", "/v3/memories/add/", `{"messages":"I like tea","user_id":"sarah","run_id":"*"}`, "wildcard"},
		{"add: filters user *", "POST", "/v3/memories/add/", `{"messages":"I like tea","filters":{"user_id":"*"}}`, "wildcard"},
		{"add: filters blank", "POST", "/v3/memories/add/", `{"messages":"I like tea","filters":{"user_id":"sarah "}}`, "whitespace"},
		{"search: top-level *", "POST", "/v2/memories/search/", `{"query":"goal","user_id":"*"}`, "wildcard"},
		{"search: top-level blank", "POST", "/v2/memories/search/", `{"query":"goal","user_id":"sarah "}`, "whitespace"},
		{"search: filter blank", "POST", "/v2/memories/search/", `{"query":"goal","filters":{"user_id":"sarah "}}`, "whitespace"},
		{"search: filter eq *", "POST", "/v2/memories/search/", `{"query":"goal","filters":{"user_id":{"eq":"*"}}}`, "wildcard"},
		{"search: filter in *", "POST", "/v2/memories/search/", `{"query":"goal","filters":{"user_id":{"in":["sarah","*"]}}}`, "wildcard"},
		{"list: filter ne blank", "POST", "/v3/memories/", `{"filters":{"AND":[{"agent_id":"*"},{"agent_id":{"ne":" coach"}}]}}`, "whitespace"},
		{"list: filter nin blank", "POST", "/v2/memories/", `{"filters":{"user_id":{"nin":["mike\u3000"]},"agent_id":"*"}}`, "whitespace"},
		{"delete: query blank", "DELETE", "/v1/memories/?user_id=sarah%20", ``, "whitespace"},
		{"delete: query *", "DELETE", "/v1/memories/?user_id=*", ``, "wildcard"},
		{"entity: *", "DELETE", "/v1/entities/user/*/", ``, "wildcard"},
		{"entity: blank", "DELETE", "/v2/entities/user/sarah%20/", ``, "whitespace"},
		{"memory id: blank", "GET", "/v1/memories/%20abc/", ``, "whitespace"},
		{"batch: memory id *", "DELETE", "/v1/batch/", `{"memories":[{"memory_id":"*"}]}`, "wildcard"},
		{"explain: *", "GET", "/memproxy/explain?user_id=*", ``, "wildcard"},
		{"explain: blank", "GET", "/memproxy/explain?agent_id=coach%20", ``, "whitespace"},
	} {
		resp, body := h.Do(tc.method, tc.path, tc.body, token(testKey))
		if resp.StatusCode != 400 || !strings.Contains(body, `"detail"`) || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 400 saying %q", tc.name, resp.StatusCode, body, tc.want)
		}
	}
	if h.snapshot() != before {
		t.Errorf("refused requests changed the store")
	}
	// The wildcard still lists everyone, as a filter value.
	var page struct{ Count int }
	h.api("POST", "/v2/memories/", `{"filters":{"user_id":"*"}}`, 200, &page)
	if page.Count != 2 {
		t.Errorf(`{"user_id": "*"} listed %d memories, want both users'`, page.Count)
	}
	// An id with a blank inside is an id like any other.
	h.api("POST", "/v1/memories/", `{"messages":"I like green tea","user_id":"sarah jones","infer":false}`, 200, nil)
}
