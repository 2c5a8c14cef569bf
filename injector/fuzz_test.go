package injector

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzChat checks, for any body and any memory text, that Chat either
// refuses or produces valid JSON that differs from the input by one
// insertion, with the block readable in the first system or developer
// message, and that the memory cannot forge a delimiter.
func FuzzChat(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"role":"system","content":"S"},{"role":"user","content":"hi"}]}`,
		`{"messages":[{"role":"developer","content":[{"type":"text","text":"x"}]}]}`,
		`{"messages":[]}`,
		`{"messages":[{"role":"system","content":null}]}`,
		`{"messages":[{"role":"system"}]}`,
		` {"messages" : [ {"role":"user","content":"\u00e9"} ] } `,
		`{"messages":[{"role":"system","content":"a"}],"messages":[]}`,
	} {
		f.Add([]byte(s), "likes tea")
	}
	f.Fuzz(func(t *testing.T, body []byte, mem string) {
		block, _ := Block(Memories{User: []string{mem}}, Options{})
		out, err := Chat(body, block)
		if err != nil {
			return
		}
		if !gjson.ValidBytes(out) {
			t.Fatalf("invalid JSON out of %q: %q", body, out)
		}
		if strings.Count(block, openTag) != 1 || strings.Count(block, closeTag) != 1 {
			t.Fatalf("memory %q forged a delimiter", mem)
		}
		checkInsertion(t, string(body), string(out))
		var found string
		gjson.GetBytes(out, "messages").ForEach(func(_, m gjson.Result) bool {
			if r := m.Get("role").String(); r == "system" || r == "developer" {
				c := m.Get("content")
				if c.IsArray() {
					found = c.Get("0.text").String()
				} else {
					found = c.String()
				}
				return false
			}
			return true
		})
		if !strings.HasPrefix(found, block) {
			t.Fatalf("block not at the start of the first system message: %q", found)
		}
	})
}

// FuzzResponses is FuzzChat for the Responses API.
func FuzzResponses(f *testing.F) {
	for _, s := range []string{`{"input":"hi"}`, `{"instructions":"x","input":[]}`, `{}`, `{"instructions":null}`} {
		f.Add([]byte(s), "likes tea")
	}
	f.Fuzz(func(t *testing.T, body []byte, mem string) {
		block, _ := Block(Memories{Persona: []string{mem}}, Options{})
		out, err := Responses(body, block)
		if err != nil {
			return
		}
		if !gjson.ValidBytes(out) {
			t.Fatalf("invalid JSON out of %q: %q", body, out)
		}
		checkInsertion(t, string(body), string(out))
		if got := gjson.GetBytes(out, "instructions").String(); !strings.HasPrefix(got, block) {
			t.Fatalf("block not at the start of instructions: %q", got)
		}
	})
}

func checkInsertion(t *testing.T, in, out string) {
	t.Helper()
	p := 0
	for p < len(in) && p < len(out) && in[p] == out[p] {
		p++
	}
	s := 0
	for s < len(in)-p && s < len(out)-p && in[len(in)-1-s] == out[len(out)-1-s] {
		s++
	}
	if removed := in[p : len(in)-s]; removed != "" && removed != "null" {
		t.Fatalf("edit of %q removed %q", in, removed)
	}
}

// FuzzStrip checks that Strip removes whatever Block produced.
func FuzzStrip(f *testing.F) {
	f.Add("likes tea", "hello")
	f.Fuzz(func(t *testing.T, mem, rest string) {
		if strings.Contains(rest, openTag) {
			return
		}
		block, _ := Block(Memories{User: []string{mem}}, Options{})
		if block == "" {
			return
		}
		if got := Strip(block + "\n\n" + rest); strings.Contains(got, openTag) || strings.Contains(got, closeTag) && !strings.Contains(rest, closeTag) {
			t.Fatalf("Strip left a delimiter: %q", got)
		}
	})
}
