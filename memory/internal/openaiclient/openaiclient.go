// Package openaiclient owns the one way the memory packages build a
// go-openai client for an OpenAI-compatible API (embeddings, extraction).
package openaiclient

import (
	"net/http"

	openai "github.com/sashabaranov/go-openai"
)

// New returns a go-openai client for an OpenAI-compatible API at baseURL
// (the OpenAI API when empty), sending requests through hc when set.
func New(baseURL, apiKey string, hc *http.Client) *openai.Client {
	oc := openai.DefaultConfig(apiKey)
	if baseURL != "" {
		oc.BaseURL = baseURL
	}
	if hc != nil {
		oc.HTTPClient = hc
	}
	return openai.NewClientWithConfig(oc)
}
