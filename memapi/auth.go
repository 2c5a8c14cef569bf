package memapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/proxy"
)

// auth admits a call that carries a configured key as
// "Authorization: Token <key>" (the SDKs' form) or "Bearer <key>".
func (a *API) auth(c *gin.Context) {
	if len(a.opts.APIKeys) == 0 {
		a.fail(c, &httpError{http.StatusUnauthorized, "unauthorized",
			"the memory API is closed: no API keys are configured (set MEMPROXY_API_KEYS)"})
		return
	}
	scheme, key, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !(strings.EqualFold(scheme, "Token") || strings.EqualFold(scheme, "Bearer")) || !proxy.MatchKey(strings.TrimSpace(key), a.opts.APIKeys) {
		a.fail(c, &httpError{http.StatusUnauthorized, "unauthorized",
			"missing or invalid API key: send Authorization: Token <key> with a key from MEMPROXY_API_KEYS"})
		return
	}
	c.Next()
}

// needMemories answers 503 for the memory endpoints when no store is
// configured.
func (a *API) needMemories(c *gin.Context) {
	if a.opts.Memories == nil {
		a.fail(c, &httpError{http.StatusServiceUnavailable, "unavailable", "the memory store is not configured"})
		return
	}
	c.Next()
}
