package memapi

import (
	"strings"
	"testing"

	"github.com/memproxy/memproxy/memory"
)

// TestDuplicateKeysAreRefused: a key given twice in one object of a
// memory API body, at the top level or nested, is a 400 naming it and
// where it is, never "the last one wins".
func TestDuplicateKeysAreRefused(t *testing.T) {
	h := newHarness(t)
	h.Add("Sarah's goal: half marathon by June", memory.Scope{UserID: "sarah"}, nil)
	var listed struct {
		Results []struct{ ID string }
	}
	h.api("POST", "/v2/memories/", `{"filters":{"user_id":"sarah"}}`, 200, &listed)
	memPath := "/v1/memories/" + listed.Results[0].ID + "/"
	before := h.snapshot()
	for _, tc := range []struct {
		name, method, path, body, key, where string
	}{
		{"top level", "POST", "/v1/memories/", `{"messages":"I like tea","user_id":"sarah","user_id":"mike"}`, "user_id", "top level"},
		{"letter case", "POST", "/v1/memories/", `{"messages":"I like tea","user_id":"sarah","User_Id":"mike"}`, "User_Id", "top level"},
		{"escaped", "POST", "/v1/memories/", `{"messages":"I like tea","user_id":"sarah","user\u005fid":"mike"}`, "user_id", "top level"},
		{"in a message", "POST", "/v1/memories/", `{"messages":[{"role":"user","content":"a"},{"role":"user","content":"b","role":"system"}],"user_id":"sarah"}`, "role", "messages[1]"},
		{"in metadata", "POST", "/v1/memories/", `{"messages":"I like tea","user_id":"sarah","metadata":{"a":{"b":1,"b":2}}}`, "b", "metadata.a"},
		{"in add filters", "POST", "/v3/memories/add/", `{"messages":"I like tea","filters":{"user_id":"sarah","user_id":"mike"}}`, "user_id", "filters"},
		{"search", "POST", "/v2/memories/search/", `{"query":"goal","query":"x","filters":{"user_id":"sarah"}}`, "query", "top level"},
		{"search filters", "POST", "/v3/memories/search/", `{"query":"goal","filters":{"OR":[{"user_id":"sarah","user_id":"mike"}]}}`, "user_id", "filters.OR[0]"},
		{"list", "POST", "/v2/memories/", `{"filters":{"user_id":"sarah"},"page_size":1,"PAGE_SIZE":2}`, "PAGE_SIZE", "top level"},
		{"update", "PUT", memPath, `{"text":"a","text":"b"}`, "text", "top level"},
		{"batch", "PUT", "/v1/batch/", `{"memories":[{"memory_id":"x","text":"a","memory_id":"y"}]}`, "memory_id", "memories[0]"},
	} {
		resp, body := h.Do(tc.method, tc.path, tc.body, token(testKey))
		if resp.StatusCode != 400 || !strings.Contains(body, `\"`+tc.key+`\"`) || !strings.Contains(body, "twice") || !strings.Contains(body, tc.where) {
			t.Errorf("%s: %d %s, want 400 naming %q at %s", tc.name, resp.StatusCode, body, tc.key, tc.where)
		}
	}
	if h.snapshot() != before {
		t.Errorf("refused requests changed the store")
	}
	// Metadata keys are data: differing in case they are two keys.
	h.api("POST", "/v1/memories/", `{"messages":"I like tea","user_id":"sarah","infer":false,"metadata":{"Type":"a","type":"b"}}`, 200, nil)
	h.api("POST", "/v2/memories/", `{"filters":{"user_id":"sarah","metadata.Type":"a","metadata.type":"b"}}`, 200, nil)
}

func TestCheckDuplicateKeys(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":[{"x":1},{"x":2}],"b":{"x":{"x":3}}}`, ""},
		{`[{"a":1},{"a":2,"b":[]},{}]`, ""},
		{`{"a":1,"b":{"c":[1,{"d":1,"D":2}]}}`, `"D" appears twice in one object in b.c[1]`},
		{`{"metadata":{"K":1,"k":2},"k":3,"\u212a":4}`, "appears twice in one object at the top level (as \"k\" and \"\u212a\""}, // the Kelvin sign folds to k
		{`{"filters":{"metadata":{"t":1,"T":2},"metadata.t":1,"metadata.T":2}}`, ""},
		{`{"a":1,"a":`, `"a" appears twice`}, // found before the JSON breaks
		{`{"a":1,,}`, ""},                    // invalid JSON is json.Unmarshal's to report
		{strings.Repeat("[", 100000), "nests deeper than 10000 levels"},
	} {
		err := checkDuplicateKeys([]byte(tc.in))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%.60s: %v, want nil", tc.in, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%.60s: %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}
