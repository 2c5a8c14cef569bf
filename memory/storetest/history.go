package storetest

import (
	"testing"
	"time"

	"github.com/memproxy/memproxy/memory"
)

func testHistory(t *testing.T, s memory.Store) {
	rec := func(id, memID, event, oldText, newText string, minute int) memory.HistoryRecord {
		return memory.HistoryRecord{ID: id, MemoryID: memID, Event: event, OldText: oldText, NewText: newText,
			UserID: "sarah", RequestID: "req_" + id, CreatedAt: clock.Add(time.Duration(minute) * time.Minute)}
	}
	a, b := memory.NewID(), memory.NewID()
	h2 := rec("h2", a, memory.EventUpdate, "I run 5K", "I run 10K", 2)
	h2.ActorID = "sarah" // learned from her chat turn
	err := s.AddHistory(ctx(t),
		h2,
		rec("h1", a, memory.EventAdd, "", "I run 5K", 1),
		rec("h3", b, memory.EventAdd, "", "other memory", 1),
	)
	if err != nil {
		t.Fatal(err)
	}
	// Replaying a record by id replaces it rather than adding a second.
	if err := s.AddHistory(ctx(t), h2); err != nil {
		t.Fatal(err)
	}
	got, err := s.History(ctx(t), a)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "h1" || got[1].ID != "h2" || got[1].OldText != "I run 5K" || got[1].NewText != "I run 10K" ||
		got[1].RequestID != "req_h2" || got[1].UserID != "sarah" || got[1].ActorID != "sarah" || got[0].ActorID != "" || !got[1].CreatedAt.Equal(clock.Add(2*time.Minute)) {
		t.Errorf("History = %+v, want h1 then h2 with their values", got)
	}
	if err := s.DeleteHistory(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.History(ctx(t), a); len(got) != 0 {
		t.Errorf("history left after DeleteHistory: %+v", got)
	}
	if got, _ := s.History(ctx(t), b); len(got) != 1 {
		t.Errorf("DeleteHistory of one memory removed another's: %+v", got)
	}
	if got, err := s.History(ctx(t), "no-such-memory"); err != nil || len(got) != 0 {
		t.Errorf("History of an unknown memory = %v, %v", got, err)
	}
}
