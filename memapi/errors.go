package memapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
)

// apiError is the error body of the memory API. The mem0ai Python SDK
// shows "detail"; "error" names the kind for programs.
type apiError struct {
	Detail string `json:"detail"`
	Error  string `json:"error"`
}

// An httpError is an answer a handler chose: its status, its kind (the
// body's "error") and its message (the body's "detail").
type httpError struct {
	status int
	kind   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// invalid is a 400 for a request the API cannot take.
func invalid(err error) error {
	return &httpError{http.StatusBadRequest, "invalid_request", err.Error()}
}

// A callError is a failed call of Memories: what the handler was doing,
// and why.
type callError struct {
	what string
	err  error
}

func (e *callError) Error() string { return e.what + " failed: " + e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// failed wraps an error of Memories with what was being done.
func failed(what string, err error) error { return &callError{what, err} }

// handle adapts a handler that returns its error to gin: the error is
// answered by fail, in one place for every route.
func (a *API) handle(h func(*API, *gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(a, c); err != nil {
			a.fail(c, err)
		}
	}
}

// fail answers err and stops the request's handlers:
//
//   - an *httpError as it says;
//   - memory.ErrInvalid and ErrNoScope: 400, a request to change;
//   - memory.ErrNotFound: 404, an unknown id;
//   - the client gone (context.Canceled): 499, for the log only;
//   - another error of Memories: 503, the store or embedder failed;
//   - anything else: 500.
//
// Server-side failures are logged with the request's id.
func (a *API) fail(c *gin.Context, err error) {
	defer c.Abort()
	ctx := c.Request.Context()
	cause := err
	var call *callError
	if errors.As(err, &call) {
		cause = call.err // a 4xx names the cause, not what was being done
	}
	var he *httpError
	switch {
	case errors.As(err, &he):
	case errors.Is(err, memory.ErrInvalid), errors.Is(err, memory.ErrNoScope):
		he = &httpError{http.StatusBadRequest, "invalid_request", strings.TrimPrefix(cause.Error(), memory.ErrInvalid.Error()+": ")}
	case errors.Is(err, memory.ErrNotFound):
		he = &httpError{http.StatusNotFound, "not_found", cause.Error()}
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		c.AbortWithStatus(499) // the client left; for the log
		return
	case call != nil:
		a.log.ErrorContext(ctx, "memory API call failed", "err", err)
		he = &httpError{http.StatusServiceUnavailable, "unavailable", err.Error()}
	default:
		a.log.ErrorContext(ctx, "memory API request failed", "path", c.FullPath(), "err", err)
		he = &httpError{http.StatusInternalServerError, "internal", err.Error()}
	}
	writeJSON(c.Writer, he.status, apiError{Detail: he.msg, Error: he.kind})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"detail":"memproxy: encoding response failed","error":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
