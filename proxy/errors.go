package proxy

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAIError is the error body OpenAI clients parse: the SDKs raise an
// exception carrying message and code.
type openAIError struct {
	Error openAIErrorDetail `json:"error"`
}

type openAIErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// writeError answers a chat-route request the sidecar itself refuses, in
// the OpenAI error shape. Messages start with "memproxy:" so that nobody
// mistakes them for the upstream's.
func writeError(c *gin.Context, status int, code, msg string) {
	writeJSONError(c.Writer, status, code, msg)
	c.Abort()
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	typ := "invalid_request_error"
	if status >= 500 {
		typ = "server_error"
	}
	writeJSON(w, status, openAIError{Error: openAIErrorDetail{Message: "memproxy: " + msg, Type: typ, Code: code}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"memproxy: encoding response failed","type":"server_error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
