package embedded

import (
	"slices"

	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/lexical"
)

// index adds m to the maps; the caller holds mu (or is loading).
func (s *Store) index(m *memory.Memory) {
	s.byID[m.ID] = m
	addTo(s.byUser, m.UserID, m)
	addTo(s.byAgent, m.AgentID, m)
	x := s.lexical[m.UserID]
	if x == nil {
		x = lexical.NewIndex()
		s.lexical[m.UserID] = x
	}
	x.Add(m.ID, m.Text)
}

func (s *Store) unindex(id string) {
	m, ok := s.byID[id]
	if !ok {
		return
	}
	delete(s.byID, id)
	removeFrom(s.byUser, m.UserID, id)
	removeFrom(s.byAgent, m.AgentID, id)
	if x := s.lexical[m.UserID]; x != nil {
		x.Remove(id)
		if x.Len() == 0 {
			delete(s.lexical, m.UserID)
		}
	}
}

func addTo(idx map[string]map[string]*memory.Memory, key string, m *memory.Memory) {
	set := idx[key]
	if set == nil {
		set = make(map[string]*memory.Memory)
		idx[key] = set
	}
	set[m.ID] = m
}

func removeFrom(idx map[string]map[string]*memory.Memory, key, id string) {
	if set := idx[key]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(idx, key)
		}
	}
}

// scan calls fn for every memory that f might match, using the user and
// agent indexes where f pins those fields, and every memory otherwise.
// fn must still apply f itself. The caller holds mu.
func (s *Store) scan(f memory.Filter, fn func(*memory.Memory)) {
	sets, ok := s.plan(f)
	if !ok {
		for _, m := range s.byID {
			fn(m)
		}
		return
	}
	if len(sets) == 1 {
		for _, m := range sets[0] {
			fn(m)
		}
		return
	}
	seen := make(map[string]bool)
	for _, set := range sets {
		for id, m := range set {
			if !seen[id] {
				seen[id] = true
				fn(m)
			}
		}
	}
}

// plan returns index sets whose union holds every memory f can match, or
// false when f pins no indexed field and the whole store must be scanned.
func (s *Store) plan(f memory.Filter) ([]map[string]*memory.Memory, bool) {
	switch f.Op {
	case memory.OpEq:
		v, isString := f.Value.(string)
		if f.Meta || !isString {
			return nil, false
		}
		switch f.Field {
		case memory.FieldUserID:
			return []map[string]*memory.Memory{s.byUser[v]}, true
		case memory.FieldAgentID:
			return []map[string]*memory.Memory{s.byAgent[v]}, true
		case memory.FieldID:
			if m, ok := s.byID[v]; ok {
				return []map[string]*memory.Memory{{v: m}}, true
			}
			return nil, true
		}
	case memory.OpIn:
		if f.Meta || (f.Field != memory.FieldUserID && f.Field != memory.FieldAgentID) {
			return nil, false
		}
		var sets []map[string]*memory.Memory
		idx := s.byUser
		if f.Field == memory.FieldAgentID {
			idx = s.byAgent
		}
		for _, v := range f.Value.([]any) {
			if str, ok := v.(string); ok {
				sets = append(sets, idx[str])
			}
		}
		return sets, true
	case memory.OpAnd:
		// Any pinned argument bounds the whole conjunction: take the smallest.
		var best []map[string]*memory.Memory
		found := false
		for _, a := range f.Args {
			if sets, ok := s.plan(a); ok && (!found || size(sets) < size(best)) {
				best, found = sets, true
			}
		}
		return best, found
	case memory.OpOr:
		var all []map[string]*memory.Memory
		for _, a := range f.Args {
			sets, ok := s.plan(a)
			if !ok {
				return nil, false
			}
			all = append(all, sets...)
		}
		return all, true
	}
	return nil, false
}

// users returns the user ids f restricts memories to, or false when it
// does not pin user_id: the scope whose term statistics BM25 uses.
func users(f memory.Filter) ([]string, bool) {
	switch f.Op {
	case memory.OpEq:
		if v, ok := f.Value.(string); ok && !f.Meta && f.Field == memory.FieldUserID {
			return []string{v}, true
		}
	case memory.OpIn:
		if f.Meta || f.Field != memory.FieldUserID {
			return nil, false
		}
		var out []string
		for _, v := range f.Value.([]any) {
			if str, ok := v.(string); ok && !slices.Contains(out, str) {
				out = append(out, str)
			}
		}
		return out, true
	case memory.OpAnd:
		for _, a := range f.Args {
			if us, ok := users(a); ok {
				return us, true
			}
		}
	case memory.OpOr:
		var out []string
		for _, a := range f.Args {
			us, ok := users(a)
			if !ok {
				return nil, false
			}
			for _, u := range us {
				if !slices.Contains(out, u) {
					out = append(out, u)
				}
			}
		}
		return out, true
	}
	return nil, false
}

func size(sets []map[string]*memory.Memory) int {
	n := 0
	for _, s := range sets {
		n += len(s)
	}
	return n
}

// clone copies m so that callers can neither see later writes nor change
// the stored memory. The vector is copied only when asked for.
func clone(m *memory.Memory, withVector bool) *memory.Memory {
	c := *m
	c.Metadata = cloneJSON(m.Metadata).(map[string]any)
	c.Categories = slices.Clone(m.Categories)
	c.Vector = nil
	if withVector {
		c.Vector = slices.Clone(m.Vector)
	}
	return &c
}

func cloneJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if x == nil {
			return map[string]any(nil)
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cloneJSON(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneJSON(e)
		}
		return out
	}
	return v
}
