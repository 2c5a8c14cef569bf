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
}

// maxQueryRunes bounds the query handed to the embedder; the end of a long
// message is what the user said last.
const maxQueryRunes = 2000

// ChatUserText reads the user text of a Chat Completions request.
func ChatUserText(body []byte) UserText {
	var ut UserText
	gjson.GetBytes(body, "messages").ForEach(func(_, m gjson.Result) bool {
		switch m.Get("role").String() {
		case "user":
			if t := Strip(contentText(m.Get("content"))); t != "" {
				ut.New = append(ut.New, t)
			}
		case "system", "developer":
			// Instructions, not conversation: they neither start nor end a turn.
		default: // assistant, tool, function: the turn starts again after them
			ut.New = ut.New[:0]
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
		}
	} else {
		input.ForEach(func(_, item gjson.Result) bool {
			role := item.Get("role").String()
			switch {
			case role == "user":
				if t := Strip(contentText(item.Get("content"))); t != "" {
					ut.New = append(ut.New, t)
				}
			case role == "system" || role == "developer":
			default: // assistant messages, function calls and their outputs, reasoning
				ut.New = ut.New[:0]
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
