package injector

import (
	"strings"

	"github.com/tidwall/gjson"
)

// UserText is what the user said in a request.
type UserText struct {
	// Query is the latest user message, the text memories are recalled for.
	Query string
	// New are the user messages after the last assistant (or tool) message:
	// what the user said in this turn, the only thing worth learning from.
	New []string
	// Recent are the texts of the last messages of the conversation, user
	// and assistant, oldest first (at most maxRecent).
	Recent []string
	// Previous is the user message before the latest one.
	Previous string

	last string // the latest user message, while reading
}

func (ut *UserText) addUser(t string) {
	ut.New = append(ut.New, t)
	ut.addRecent(t)
	ut.Previous, ut.last = ut.last, t
}

// RecallQuery is the text to recall memories for: the latest user
// message, preceded by the one before when the latest cannot stand on
// its own ("what about her kids?", "why?"; see Elliptical): alone, it
// would find nothing it is about.
func (ut UserText) RecallQuery() string {
	if ut.Previous == "" || !Elliptical(ut.Query) {
		return ut.Query
	}
	return lastQuery([]string{ut.Previous + "\n" + ut.Query})
}

// Earlier returns the recent texts before the user's new messages: the
// conversation the client sent with this turn.
func (ut UserText) Earlier() []string {
	return ut.Recent[:max(0, len(ut.Recent)-len(ut.New))]
}

// maxRecent bounds UserText.Recent.
const maxRecent = 50

func (ut *UserText) addRecent(text string) {
	if text == "" {
		return
	}
	if len(ut.Recent) == maxRecent {
		ut.Recent = append(ut.Recent[:0], ut.Recent[1:]...)
	}
	ut.Recent = append(ut.Recent, text)
}

// RecentQuery returns the last n recent texts joined, bounded like Query.
func (ut UserText) RecentQuery(n int) string {
	if n <= 1 || len(ut.Recent) <= 1 {
		return ut.Query
	}
	return lastQuery([]string{strings.Join(ut.Recent[max(0, len(ut.Recent)-n):], "\n")})
}

// maxQueryRunes bounds the query handed to the embedder; the end of a long
// message is what the user said last.
const maxQueryRunes = 2000

// ChatUserText reads the user text of a Chat Completions request.
func ChatUserText(body []byte) UserText {
	var ut UserText
	gjson.GetBytes(body, "messages").ForEach(func(_, m gjson.Result) bool {
		switch role := m.Get("role").String(); role {
		case "user":
			if t := Strip(contentText(m.Get("content"))); t != "" {
				ut.addUser(t)
			}
		case "system", "developer":
			// Instructions, not conversation: they neither start nor end a turn.
		default: // assistant, tool, function: the turn starts again after them
			ut.New = ut.New[:0]
			if role == "assistant" {
				ut.addRecent(Strip(contentText(m.Get("content"))))
			}
		}
		return true
	})
	ut.Query = lastQuery(ut.New)
	return ut
}

// ResponsesUserText reads the user text of a Responses API request: input
// is a string, or a list of items of which messages have a role.
func ResponsesUserText(body []byte) UserText {
	var ut UserText
	input := gjson.GetBytes(body, "input")
	if input.Type == gjson.String {
		if t := Strip(input.String()); t != "" {
			ut.New = []string{t}
			ut.Recent = []string{t}
		}
	} else {
		input.ForEach(func(_, item gjson.Result) bool {
			role := item.Get("role").String()
			switch {
			case role == "user":
				if t := Strip(contentText(item.Get("content"))); t != "" {
					ut.addUser(t)
				}
			case role == "system" || role == "developer":
			default: // assistant messages, function calls and their outputs, reasoning
				ut.New = ut.New[:0]
				if role == "assistant" {
					ut.addRecent(Strip(contentText(item.Get("content"))))
				}
			}
			return true
		})
	}
	ut.Query = lastQuery(ut.New)
	return ut
}

func lastQuery(msgs []string) string {
	if len(msgs) == 0 {
		return ""
	}
	q := []rune(msgs[len(msgs)-1])
	if len(q) > maxQueryRunes {
		q = q[len(q)-maxQueryRunes:]
	}
	return string(q)
}

// contentText joins the text of a message content: a string, or the text
// of its text parts ("text", "input_text", "output_text").
func contentText(c gjson.Result) string {
	if c.Type == gjson.String {
		return strings.TrimSpace(c.String())
	}
	var parts []string
	c.ForEach(func(_, p gjson.Result) bool {
		switch p.Get("type").String() {
		case "text", "input_text", "output_text":
			if t := strings.TrimSpace(p.Get("text").String()); t != "" {
				parts = append(parts, t)
			}
		}
		return true
	})
	return strings.Join(parts, "\n")
}
