package memapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/proxy"
)

// explain serves GET /memproxy/explain?agent_id=&user_id=&run_id=&query=&message=&model=:
// which policy rule governs a request, and what the chat proxy would
// recall and learn for it (see proxy.Explain).
func (a *API) explain(c *gin.Context) error {
	req := proxy.ExplainRequest{
		AgentID: c.Query("agent_id"), UserID: c.Query("user_id"), RunID: c.Query("run_id"),
		Query: c.Query("query"), Message: c.Query("message"), Model: c.Query("model"),
	}
	for _, v := range []string{req.AgentID, req.UserID, req.RunID} {
		if err := proxy.CheckID(v); err != nil {
			return invalid(err)
		}
	}
	c.JSON(http.StatusOK, proxy.Explain(c.Request.Context(), a.opts.Policies, a.opts.Recaller, req))
	return nil
}
