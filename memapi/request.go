package memapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/proxy"
)

// decodeBody reads a JSON object of at most MaxBodyBytes into v.
func (a *API) decodeBody(c *gin.Context, v any) error {
	body, err := proxy.ReadBody(c, a.opts.MaxBodyBytes)
	var refused *proxy.BodyError
	if errors.As(err, &refused) {
		return &httpError{refused.Status, refused.Code, refused.Msg}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return invalid(errors.New("the request needs a JSON object as its body"))
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			if typeErr.Field == "" {
				return invalid(fmt.Errorf("the body must be a JSON object, got %s", typeErr.Value))
			}
			return invalid(fmt.Errorf("field %s: want %s, got %s", typeErr.Field, typeErr.Type, typeErr.Value))
		}
		return invalid(errors.New("request body is not a valid JSON object: " + err.Error()))
	}
	return nil
}

// pathID reads and checks an id from the path.
func pathID(c *gin.Context, name, what string) (string, error) {
	id := c.Param(name)
	if id == "" {
		return "", &httpError{http.StatusBadRequest, "invalid_request", what + " is missing from the path"}
	}
	if err := proxy.CheckID(id); err != nil {
		return "", invalid(fmt.Errorf("%s: %w", what, err))
	}
	return id, nil
}
