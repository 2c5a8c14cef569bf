package memapi

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
)

// listEntities answers GET /v1/entities/: every user, agent, app and run
// with memories, in pages.
func (a *API) listEntities(c *gin.Context) error {
	page, size, err := pageOf(c.Request.URL.Query(), nil)
	if err != nil {
		return invalid(err)
	}
	es, err := a.opts.Memories.Entities(c.Request.Context())
	if err != nil {
		return failed("listing entities", err)
	}
	start := min((page-1)*size, len(es))
	end := min(start+size, len(es))
	results := make([]entityJSON, 0, end-start)
	for _, e := range es[start:end] {
		results = append(results, toEntityJSON(e))
	}
	c.JSON(http.StatusOK, newPage(c.Request.URL.Path, page, size, len(es), results))
	return nil
}

// deleteEntity answers DELETE /v2/entities/{type}/{name}/: every memory of
// a user, agent, app or run, with its history.
func (a *API) deleteEntity(c *gin.Context) error {
	kind := c.Param("type")
	if _, ok := memory.EntityField(kind); !ok {
		return invalid(fmt.Errorf("entity type %q is not user, agent, app or run", kind))
	}
	name, err := pathID(c, "name", "the "+kind+" id")
	if err != nil {
		return err
	}
	n, err := a.opts.Memories.DeleteEntity(c.Request.Context(), kind, name)
	if err != nil {
		return failed("deleting the "+kind, err)
	}
	c.JSON(http.StatusOK, messageJSON{Message: "Entity deleted successfully!", Count: &n})
	return nil
}
