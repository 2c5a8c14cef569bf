// Package memapi serves the sidecar's memory API: the Mem0-compatible REST
// routes and memproxy's own operator routes (/memproxy/outbox,
// /memproxy/explain, /memproxy/openapi.json, and the memory inspector
// under /memproxy/ui), behind the memory API key.
//
// The API speaks the Mem0 platform's REST API as the mem0ai SDKs call it
// (MemoryClient(host=...)), so that code written against Mem0 runs against
// the sidecar by changing the host. The wire format is in wire.go and
// requests.go, the filter language in filter.go; the handlers only decode,
// call Memories, and encode, returning their errors to one mapper
// (errors.go). It plugs into the chat proxy as a proxy.API.
package memapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/inspector"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
	"github.com/memproxy/memproxy/policies"
	"github.com/memproxy/memproxy/proxy"
)

// Memories is what the memory API does (memory.Service does it).
type Memories interface {
	Add(ctx context.Context, req memory.AddRequest) ([]memory.Event, error)
	Get(ctx context.Context, id string) (memory.Memory, error)
	Search(ctx context.Context, q memory.Query) ([]memory.Hit, error)
	List(ctx context.Context, f memory.Filter, page memory.Page) ([]memory.Memory, int, error)
	Update(ctx context.Context, requestID string, changes ...memory.Change) ([]memory.Memory, error)
	Delete(ctx context.Context, ids ...string) error
	DeleteMatching(ctx context.Context, f memory.Filter) (int, error)
	History(ctx context.Context, id string) ([]memory.HistoryRecord, error)
	Entities(ctx context.Context) ([]memory.Entity, error)
	DeleteEntity(ctx context.Context, kind, name string) (int, error)
}

// Queue is the learning queue, as operators see it.
type Queue interface {
	Stats() learn.OutboxStats
	DeadLetters() ([]learn.Entry, error)
	Retry(seq uint64) error
	Discard(seq uint64) error
}

// Options configure an API.
type Options struct {
	// Memories may be nil: the memory routes answer 503.
	Memories Memories
	// Queue may be nil: the outbox routes answer 503.
	Queue Queue
	// APIKeys open the API; without any, it is closed.
	APIKeys []string
	// Policies and Recaller are what /memproxy/explain explains: the
	// chat proxy's. Recaller may be nil: nothing is recalled.
	Policies policies.Source
	Recaller proxy.Recaller
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// API is the memory API, a proxy.API.
type API struct {
	opts Options
	log  *slog.Logger
	// events are the recent adds, for GET /v1/event/{id}/.
	events eventLog
	// ui is the memory inspector, served under /memproxy/ui.
	ui *inspector.Inspector
}

var _ proxy.API = (*API)(nil)

// New returns the API for opts.
func New(opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Policies == nil {
		opts.Policies = policies.Static(policies.Default())
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 32 << 20
	}
	a := &API{opts: opts, log: opts.Logger}
	a.ui = inspector.New(inspector.Options{
		Memories: opts.Memories, Queue: opts.Queue, APIKeys: opts.APIKeys,
		Policies: opts.Policies, Recaller: opts.Recaller, Logger: opts.Logger,
	})
	return a
}

// route is one endpoint of the API.
type route struct {
	method, path string
	handle       func(*API, *gin.Context) error
}

// memoryRoutes are the Mem0 endpoints the sidecar serves, each also
// without its trailing slash. The OpenAPI document describes every one
// (a test checks).
var memoryRoutes = []route{
	{"POST", "/v1/memories/", (*API).addMemories},
	{"POST", "/v3/memories/add/", (*API).addMemories},
	{"DELETE", "/v1/memories/", (*API).deleteMemories},
	{"GET", "/v1/memories/:id/", (*API).getMemory},
	{"PUT", "/v1/memories/:id/", (*API).updateMemory},
	{"DELETE", "/v1/memories/:id/", (*API).deleteMemory},
	{"GET", "/v1/memories/:id/history/", (*API).memoryHistory},
	{"POST", "/v2/memories/search/", (*API).searchMemories},
	{"POST", "/v3/memories/search/", (*API).searchMemories},
	{"POST", "/v2/memories/", (*API).listMemories},
	{"POST", "/v3/memories/", (*API).listMemories},
	{"PUT", "/v1/batch/", (*API).batchUpdate},
	{"DELETE", "/v1/batch/", (*API).batchDelete},
	{"GET", "/v1/entities/", (*API).listEntities},
	{"DELETE", "/v2/entities/:type/:name/", (*API).deleteEntity},
	{"DELETE", "/v1/entities/:type/:name/", (*API).deleteEntity},
	{"GET", "/v1/event/:id/", (*API).getEvent},
}

// operatorRoutes are memproxy's own endpoints, outside /v1 so that they
// can never shadow an upstream path.
var operatorRoutes = []route{
	{"GET", "/memproxy/outbox", (*API).outbox},
	{"POST", "/memproxy/outbox/dead/:seq/retry", (*API).retryDead},
	{"DELETE", "/memproxy/outbox/dead/:seq", (*API).discardDead},
	{"GET", "/memproxy/explain", (*API).explain},
}

// Register adds the API's routes to r.
func (a *API) Register(r gin.IRouter) {
	r.GET("/memproxy/openapi.json", a.openAPI)

	keyed := r.Group("", a.auth)
	for _, p := range []string{"/v1/ping/", "/v1/ping"} {
		keyed.GET(p, a.ping)
	}
	mem := keyed.Group("", a.needMemories)
	for _, rt := range memoryRoutes {
		for _, p := range []string{rt.path, strings.TrimSuffix(rt.path, "/")} {
			mem.Handle(rt.method, p, a.handle(rt.handle))
		}
	}
	for _, rt := range operatorRoutes {
		keyed.Handle(rt.method, rt.path, a.handle(rt.handle))
	}
	// The inspector has its own login, with the same keys.
	a.ui.Register(r)
}

// Unserved answers a request to a path of the memory API that no route
// serves: 501 to a caller with a key, 401 to any other.
func (a *API) Unserved(c *gin.Context) {
	if a.auth(c); c.IsAborted() {
		return
	}
	a.fail(c, &httpError{http.StatusNotImplemented, "not_implemented",
		"memproxy does not serve " + c.Request.Method + " " + c.Request.URL.Path + " (yet); it is not forwarded upstream"})
}

// Refuse answers a request to one of the sidecar's own paths that is
// refused before any route, in the API's error shape.
func (a *API) Refuse(c *gin.Context, status int, code, msg string) {
	a.fail(c, &httpError{status, code, msg})
}

// Keys are the API's keys: the proxy removes them from every request it
// forwards upstream.
func (a *API) Keys() []string { return a.opts.APIKeys }

// The organisation and project the sidecar reports: it has one of each.
const (
	pingOrg     = "memproxy"
	pingProject = "default"
)

// ping answers the key check the SDKs make when constructed. The Python
// SDK refuses to start without org_id and project_id, so the sidecar
// names its single organisation and project.
func (a *API) ping(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{
		"status": "ok", "org_id": pingOrg, "project_id": pingProject, "user_email": "memproxy@localhost",
	})
}
