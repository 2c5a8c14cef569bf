// Package inspector serves the memory inspector: operators' pages under
// /memproxy/ui, behind the memory API key, showing what the sidecar
// remembers and what it would inject, over the memory service, the
// policies' explanation and the learning queue.
//
// The page is plain HTML, CSS and JavaScript embedded in the binary
// (assets/); it renders every value as text, never as markup. Its JSON
// API lives under /memproxy/ui/api and is described in the memory API's
// OpenAPI document.
package inspector

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/learn"
	"github.com/memproxy/memproxy/policies"
	"github.com/memproxy/memproxy/proxy"
)

// basePath is where the inspector is served; the session cookie is
// scoped to it.
const basePath = "/memproxy/ui"

//go:embed assets
var assets embed.FS

// pages are the two server-rendered pages: the login form, and the
// inspector's shell, which carries the CSRF token for its script.
var pages = template.Must(template.ParseFS(assets, "assets/*.html"))

const (
	loginPage = "login.html"
	appPage   = "app.html"
)

type pageData struct {
	Error string
	CSRF  string
}

// Memories is what the inspector reads and changes (memory.Service).
type Memories interface {
	Get(ctx context.Context, id string) (memory.Memory, error)
	Search(ctx context.Context, q memory.Query) ([]memory.Hit, error)
	List(ctx context.Context, f memory.Filter, page memory.Page) ([]memory.Memory, int, error)
	Update(ctx context.Context, requestID string, changes ...memory.Change) ([]memory.Memory, error)
	Delete(ctx context.Context, ids ...string) error
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

// Options configure an Inspector.
type Options struct {
	// Memories may be nil: the memory views answer 503.
	Memories Memories
	// Queue may be nil: the outbox view answers 503.
	Queue Queue
	// APIKeys are the memory API's keys, which log in; without any, no one
	// can.
	APIKeys []string
	// Policies and Recaller are what "what would be injected" explains
	// (proxy.Explain); Recaller may be nil.
	Policies policies.Source
	Recaller proxy.Recaller
	Logger   *slog.Logger
}

// An Inspector serves the memory inspector.
type Inspector struct {
	opts     Options
	log      *slog.Logger
	sessions *sessions
}

// New returns the inspector for opts.
func New(opts Options) *Inspector {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Policies == nil {
		opts.Policies = policies.Static(policies.Default())
	}
	return &Inspector{opts: opts, log: opts.Logger, sessions: newSessions()}
}

// Register adds the inspector's routes to r.
func (in *Inspector) Register(r gin.IRouter) {
	g := r.Group(basePath, securityHeaders)
	g.GET("", func(c *gin.Context) { c.Redirect(http.StatusSeeOther, basePath+"/") })
	g.GET("/", in.index)
	g.POST("/login", in.login)
	g.POST("/logout", in.logout)
	// Each asset by name: no directory listings.
	static, _ := fs.Sub(assets, "assets/static")
	for _, name := range []string{"app.js", "style.css"} {
		g.StaticFileFS("/static/"+name, name, http.FS(static))
	}

	api := g.Group("/api", in.requireSession)
	api.GET("/entities", in.entities)
	mem := api.Group("", in.needMemories)
	mem.GET("/users/:user", in.userLayers)
	mem.DELETE("/users/:user", in.deleteUser)
	mem.GET("/layer", in.layerPage)
	mem.GET("/search", in.search)
	mem.GET("/memories/:id/history", in.history)
	mem.PUT("/memories/:id", in.updateMemory)
	mem.DELETE("/memories/:id", in.deleteMemory)
	api.GET("/explain", in.explain)
	q := api.Group("/outbox", in.needQueue)
	q.GET("", in.outbox)
	q.POST("/dead/:seq/retry", in.retryDead)
	q.DELETE("/dead/:seq", in.discardDead)
}

// securityHeaders keep the inspector's pages out of frames, out of caches
// and free of any script but its own.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: under no-referrer a browser sends
	// "Origin: null" with the login form, which sameOrigin must refuse.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

// index serves the inspector to a logged-in browser, the login form to
// any other.
func (in *Inspector) index(c *gin.Context) {
	_, sess, ok := in.session(c)
	if !ok {
		in.page(c, http.StatusOK, loginPage, pageData{})
		return
	}
	in.page(c, http.StatusOK, appPage, pageData{CSRF: sess.csrf})
}

func (in *Inspector) page(c *gin.Context, status int, name string, data pageData) {
	c.Status(status)
	c.Header("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(c.Writer, name, data); err != nil {
		in.log.ErrorContext(c.Request.Context(), "inspector: rendering a page", "page", name, "err", err)
	}
}

func (in *Inspector) needMemories(c *gin.Context) {
	if in.opts.Memories == nil {
		fail(c, http.StatusServiceUnavailable, "the memory store is not configured")
		return
	}
	c.Next()
}

func (in *Inspector) needQueue(c *gin.Context) {
	if in.opts.Queue == nil {
		fail(c, http.StatusServiceUnavailable, "learning is not configured")
		return
	}
	c.Next()
}

// fail answers an API call with {"error": msg}.
func fail(c *gin.Context, status int, msg string) {
	c.AbortWithStatusJSON(status, gin.H{"error": msg})
}
