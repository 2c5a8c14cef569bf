package memapi

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPIDocument describes the memory API (OpenAPI 3.1). It is written by
// hand; a test checks that it names every memory route the sidecar serves.
//
//go:embed openapi.json
var openAPIDocument []byte

// openAPI serves the document. It needs no key: it holds no data.
func (a *API) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPIDocument)
}
