package memapi

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/memproxy/memproxy/memory"
)

// getEvent answers GET /v1/event/{id}/ for an add: adds complete before
// they answer, so a known event has SUCCEEDED.
func (a *API) getEvent(c *gin.Context) error {
	id, err := pathID(c, "id", "the event id")
	if err != nil {
		return err
	}
	ev, ok := a.events.get(id)
	if !ok {
		return &httpError{http.StatusNotFound, "not_found",
			fmt.Sprintf("event %s not found: the sidecar keeps the last %d add events in memory, and adds complete before they answer", id, maxEvents)}
	}
	c.JSON(http.StatusOK, ev)
	return nil
}

// maxEvents is how many add events the sidecar remembers.
const maxEvents = 10000

// eventLog keeps the most recent add events for GET /v1/event/{id}/.
type eventLog struct {
	mu    sync.Mutex
	byID  map[string]addEventJSON
	order []string
}

func (l *eventLog) record(results []addResult) string {
	id := memory.NewID()
	now := formatTime(time.Now())
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.byID == nil {
		l.byID = make(map[string]addEventJSON)
	}
	if len(l.order) >= maxEvents {
		delete(l.byID, l.order[0])
		l.order = l.order[1:]
	}
	l.byID[id] = addEventJSON{ID: id, EventType: "ADD", Status: "SUCCEEDED", Results: results, CreatedAt: now, UpdatedAt: now}
	l.order = append(l.order, id)
	return id
}

func (l *eventLog) get(id string) (addEventJSON, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ev, ok := l.byID[id]
	return ev, ok
}
