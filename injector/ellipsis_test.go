package injector

import "testing"

func TestElliptical(t *testing.T) {
	for _, c := range []struct {
		msg  string
		want bool
	}{
		{"what about her kids?", true},
		{"And the weekend?", true},
		{"why?", true},
		{"Really", true},
		{"what did she say about it?", true},
		{"How is he doing now?", true},
		{"Also my sister", true},
		{"What did Caroline paint last summer?", false},
		{"When is Sarah's marathon?", false},
		{"I want to run a marathon in under four hours this spring", false},
		{"Can you suggest a good stretching routine for runners?", false},
		{"", false},
	} {
		if got := Elliptical(c.msg); got != c.want {
			t.Errorf("Elliptical(%q) = %v, want %v", c.msg, got, c.want)
		}
	}
}

func TestRecallQueryTakesThePreviousUserMessageForAFollowUp(t *testing.T) {
	body := []byte(`{"model":"m","messages":[
		{"role":"system","content":"be nice"},
		{"role":"user","content":"Tell me about my sister Anna."},
		{"role":"assistant","content":"Anna is a nurse."},
		{"role":"user","content":"what about her kids?"}]}`)
	ut := ChatUserText(body)
	if want := "Tell me about my sister Anna.\nwhat about her kids?"; ut.RecallQuery() != want {
		t.Errorf("RecallQuery() = %q, want %q", ut.RecallQuery(), want)
	}
	if ut.Query != "what about her kids?" {
		t.Errorf("Query = %q, want the latest message alone", ut.Query)
	}

	standalone := []byte(`{"model":"m","messages":[
		{"role":"user","content":"Tell me about my sister Anna."},
		{"role":"assistant","content":"Anna is a nurse."},
		{"role":"user","content":"What should I cook for Marco on Friday?"}]}`)
	if got := ChatUserText(standalone).RecallQuery(); got != "What should I cook for Marco on Friday?" {
		t.Errorf("a message that stands alone: RecallQuery() = %q", got)
	}

	first := []byte(`{"model":"m","messages":[{"role":"user","content":"why?"}]}`)
	if got := ChatUserText(first).RecallQuery(); got != "why?" {
		t.Errorf("nothing before: RecallQuery() = %q", got)
	}

	resp := []byte(`{"model":"m","input":[
		{"role":"user","content":"My brother Tom moved to Oslo."},
		{"role":"assistant","content":"Nice!"},
		{"role":"user","content":"and his job?"}]}`)
	if got, want := ResponsesUserText(resp).RecallQuery(), "My brother Tom moved to Oslo.\nand his job?"; got != want {
		t.Errorf("Responses: RecallQuery() = %q, want %q", got, want)
	}
}
