package memory

import (
	"crypto/sha256"
	"strconv"

	"github.com/google/uuid"
)

// ContentID returns the id of the memory that says text in scope: a UUID
// (version 8, RFC 9562) derived from the scope's four ids, the text's Hash
// (so texts that differ only in case and spacing share it) and slot.
//
// Ids chosen this way make an add idempotent across processes: two
// sidecars that learn the same fact for the same scope at the same moment
// (a client retrying on another instance, an API add sent twice) write
// the same row, which a store that upserts keeps once, with no lock
// shared between them. Slot 0 is the fact's own id; a later slot is used
// only when the memory of an earlier one has since been edited to say
// something else, and is as deterministic: every writer tries them in
// order and stops at the first that is free or already holds the text.
func ContentID(s Scope, text string, slot int) string {
	h := sha256.New()
	for _, part := range []string{"memproxy/memory/v1", s.UserID, s.AgentID, s.RunID, s.AppID, Hash(text), strconv.Itoa(slot)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	var u uuid.UUID
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x80 // version 8: custom (here SHA-256 based)
	u[8] = u[8]&0x3f | 0x80 // RFC 9562 variant
	return u.String()
}

// AddRecordID returns the id of the history record of a memory's ADD, a
// function of the memory's id alone: however many writers add the same
// memory, and however often a write is replayed, its ADD is recorded once.
func AddRecordID(memoryID string) string {
	sum := sha256.Sum256([]byte("memproxy/history/add/v1\x00" + memoryID))
	var u uuid.UUID
	copy(u[:], sum[:16])
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}
