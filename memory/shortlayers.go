package memory

import (
	lru "github.com/hashicorp/golang-lru/v2"
)

// ShortLayers remembers which of a user's layers the one search of the
// user's memories left short last time (the answer full, the layer not):
// the next recall searches those alone alongside the one search rather
// than after it, so that a user with many memories and few relationship
// or run memories pays one round trip a chat, not two. It only chooses
// which searches run; every answer still comes from the store. Bounded
// (least recently used out); a nil *ShortLayers remembers nothing. Safe
// for concurrent use.
type ShortLayers struct {
	seen *lru.Cache[string, struct{}]
}

// NewShortLayers returns a ShortLayers of at most n users' layers (n < 1:
// 10,000).
func NewShortLayers(n int) *ShortLayers {
	if n < 1 {
		n = 10000
	}
	c, _ := lru.New[string, struct{}](n) // errors only on a size below 1
	return &ShortLayers{seen: c}
}

func shortKey(userID, layer string) string { return userID + "\x00" + layer }

func (s *ShortLayers) has(userID, layer string) bool {
	return s != nil && s.seen.Contains(shortKey(userID, layer))
}

func (s *ShortLayers) set(userID, layer string, short bool) {
	switch {
	case s == nil:
	case short:
		s.seen.Add(shortKey(userID, layer), struct{}{})
	default:
		s.seen.Remove(shortKey(userID, layer))
	}
}
