// Package requestid owns a request's id: choosing it (a sane one the client
// sent, or a new one), carrying it in a context, and adding it to every log
// line logged with that context.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
)

// Header is the request header a client, or a gateway in front of the
// sidecar, names its request with.
const Header = "X-Request-Id"

// MaxLen bounds an id taken from a client: it is logged with every line
// of its request and stored with what the request changed.
const MaxLen = 128

// Valid reports whether id may serve as a request id: 1 to MaxLen
// characters from [A-Za-z0-9._:-]. That covers UUIDs, ULIDs, trace ids
// and the sidecar's own ids, and keeps anything that could forge a log
// line or a header (spaces, quotes, control characters) out.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// New returns a new id: "req_" and 24 random hex digits.
func New() string {
	var b [12]byte
	rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// FromHeader returns the id h names in X-Request-Id when it is Valid, and
// fromClient true; otherwise a New id.
func FromHeader(h http.Header) (id string, fromClient bool) {
	if vs := h.Values(Header); len(vs) == 1 && Valid(vs[0]) {
		return vs[0], true
	}
	return New(), false
}

// ctxKey is the context key of the request id; the type keeps any other
// package from reading or replacing the value by accident.
type ctxKey struct{}

// NewContext returns a copy of ctx that carries id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the request id ctx carries, or "".
func FromContext(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Attr is the name of the attribute the Handler adds.
const Attr = "request_id"

// handler adds the request id of a record's context to the record.
type handler struct{ slog.Handler }

// NewHandler returns a slog.Handler that adds a request_id attribute to
// every record logged with a context that carries one (InfoContext and
// the like), then passes the record to h. Call sites then need not add it
// themselves. Like any attribute added while handling, it goes into the
// innermost group of a logger made WithGroup.
func NewHandler(h slog.Handler) slog.Handler { return handler{h} }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	if id := FromContext(ctx); id != "" {
		r.AddAttrs(slog.String(Attr, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler { return handler{h.Handler.WithAttrs(as)} }

func (h handler) WithGroup(name string) slog.Handler { return handler{h.Handler.WithGroup(name)} }
