package fakeupstream

import (
	"encoding/json"
	"net/http"
	"time"
)

type responsesRequest struct {
	Model        string          `json:"model"`
	Stream       bool            `json:"stream"`
	Instructions *string         `json:"instructions"`
	Input        json.RawMessage `json:"input"`
	Tools        []struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tools"`
	PreviousResponseID *string `json:"previous_response_id"`
}

func (u *Upstream) responses(w http.ResponseWriter, r *http.Request, body []byte) {
	var req responsesRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, 400, "invalid_request_error", "invalid_json", "We could not parse the JSON body of your request.")
		return
	}
	if u.scripted(w, r, req.Model) {
		return
	}
	var lastUser string
	var s string
	if json.Unmarshal(req.Input, &s) == nil {
		lastUser = s
	} else {
		var items []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		json.Unmarshal(req.Input, &items)
		for _, it := range items {
			if it.Role == "user" {
				lastUser = text(it.Content)
			}
		}
	}
	content := u.reply(lastUser)
	respID, msgID := u.id("resp_"), u.id("msg_")
	created := time.Now().Unix()
	var fnName string
	for _, t := range req.Tools {
		if t.Type == "function" {
			fnName = t.Name
			break
		}
	}
	usage := map[string]any{
		"input_tokens": tokens(string(body)), "input_tokens_details": map[string]any{"cached_tokens": 0},
		"output_tokens": tokens(content), "output_tokens_details": map[string]any{"reasoning_tokens": 0},
		"total_tokens": tokens(string(body)) + tokens(content),
	}
	response := func(status string, output []any) map[string]any {
		var u any
		if status == "completed" {
			u = usage
		}
		return map[string]any{
			"id": respID, "object": "response", "created_at": created, "status": status,
			"background": false, "error": nil, "incomplete_details": nil, "instructions": req.Instructions,
			"max_output_tokens": nil, "model": req.Model, "output": output, "parallel_tool_calls": true,
			"previous_response_id": req.PreviousResponseID, "reasoning": map[string]any{"effort": nil, "summary": nil},
			"store": true, "temperature": 1.0, "text": map[string]any{"format": map[string]any{"type": "text"}},
			"tool_choice": "auto", "tools": []any{}, "top_p": 1.0, "truncation": "disabled",
			"usage": u, "user": nil, "metadata": map[string]any{},
		}
	}
	textPart := func(t string) map[string]any {
		return map[string]any{"type": "output_text", "text": t, "annotations": []any{}, "logprobs": []any{}}
	}
	message := func(status string, parts []any) map[string]any {
		return map[string]any{"type": "message", "id": msgID, "status": status, "role": "assistant", "content": parts}
	}
	callID, fcID := u.id("call_"), u.id("fc_")
	args := `{"location":"Paris","unit":"celsius"}`
	fnCall := func(status, arguments string) map[string]any {
		return map[string]any{"type": "function_call", "id": fcID, "call_id": callID, "name": fnName, "arguments": arguments, "status": status}
	}
	final := []any{message("completed", []any{textPart(content)})}
	if fnName != "" {
		final = []any{fnCall("completed", args)}
	}
	if !req.Stream {
		writeJSON(w, 200, response("completed", final))
		return
	}

	sse := newSSE(w)
	seq := 0
	event := func(typ string, fields map[string]any) bool {
		fields["type"] = typ
		fields["sequence_number"] = seq
		seq++
		if !sse.event(typ, fields) {
			return false
		}
		return u.ChunkDelay == 0 || sleep(r, u.ChunkDelay)
	}
	if !event("response.created", map[string]any{"response": response("in_progress", []any{})}) ||
		!event("response.in_progress", map[string]any{"response": response("in_progress", []any{})}) {
		return
	}
	if fnName != "" {
		if !event("response.output_item.added", map[string]any{"output_index": 0, "item": fnCall("in_progress", "")}) {
			return
		}
		for i := 0; i < len(args); i += 8 {
			if !event("response.function_call_arguments.delta", map[string]any{"item_id": fcID, "output_index": 0, "delta": args[i:min(i+8, len(args))]}) {
				return
			}
		}
		if !event("response.function_call_arguments.done", map[string]any{"item_id": fcID, "output_index": 0, "arguments": args}) ||
			!event("response.output_item.done", map[string]any{"output_index": 0, "item": fnCall("completed", args)}) {
			return
		}
	} else {
		loc := map[string]any{"item_id": msgID, "output_index": 0, "content_index": 0}
		with := func(extra map[string]any) map[string]any {
			m := map[string]any{}
			for k, v := range loc {
				m[k] = v
			}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
		if !event("response.output_item.added", map[string]any{"output_index": 0, "item": message("in_progress", []any{})}) ||
			!event("response.content_part.added", with(map[string]any{"part": textPart("")})) {
			return
		}
		for i, wd := range words(content) {
			if req.Model == "error-inband" && i == 1 {
				event("error", map[string]any{"code": "server_error", "message": "The server had an error while processing your request.", "param": nil})
				return
			}
			if !event("response.output_text.delta", with(map[string]any{"delta": wd, "logprobs": []any{}})) {
				return
			}
		}
		if !event("response.output_text.done", with(map[string]any{"text": content, "logprobs": []any{}})) ||
			!event("response.content_part.done", with(map[string]any{"part": textPart(content)})) ||
			!event("response.output_item.done", map[string]any{"output_index": 0, "item": final[0]}) {
			return
		}
	}
	event("response.completed", map[string]any{"response": response("completed", final)})
}
