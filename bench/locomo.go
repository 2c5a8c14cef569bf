package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// A LoCoMo conversation as the quality test uses it: its turns, each
// stored as one memory, and its questions with the turns that answer them.
type locomoConv struct {
	name      string // the file's name without .json, e.g. "30"
	turns     []locomoTurn
	questions []locomoQuestion
}

type locomoTurn struct {
	dia  string // D<session>:<turn>
	text string // "Speaker: text", with the photo's caption when asked for
}

type locomoQuestion struct {
	text     string
	category int
	evidence []string // dia ids, all needed for a hit
}

// loadLocomo reads one conversation of the dev set. With captions, a turn
// that shares a photo carries its caption. Questions of category 5 and
// those without evidence are left out, as the dev set's README scores.
func loadLocomo(path string, captions bool) (locomoConv, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return locomoConv{}, fmt.Errorf("locomo: %w", err)
	}
	var conv map[string]json.RawMessage
	var file struct {
		QA []struct {
			Question string   `json:"question"`
			Category int      `json:"category"`
			Evidence []string `json:"evidence"`
		} `json:"qa"`
	}
	if err := json.Unmarshal(raw, &conv); err != nil {
		return locomoConv{}, fmt.Errorf("locomo: %s: %w", path, err)
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return locomoConv{}, fmt.Errorf("locomo: %s: %w", path, err)
	}
	c := locomoConv{name: strings.TrimSuffix(filepath.Base(path), ".json")}
	var sessions []int
	for key := range conv {
		if n, ok := strings.CutPrefix(key, "session_"); ok {
			if i, err := strconv.Atoi(n); err == nil {
				sessions = append(sessions, i)
			}
		}
	}
	sort.Ints(sessions)
	known := map[string]bool{}
	for _, s := range sessions {
		var turns []struct {
			Speaker     string `json:"speaker"`
			Text        string `json:"text"`
			DiaID       string `json:"dia_id"`
			BlipCaption string `json:"blip_caption"`
		}
		if err := json.Unmarshal(conv[fmt.Sprintf("session_%d", s)], &turns); err != nil {
			return locomoConv{}, fmt.Errorf("locomo: %s: session %d: %w", path, s, err)
		}
		for _, t := range turns {
			text := t.Speaker + ": " + t.Text
			if captions && t.BlipCaption != "" {
				text += " [shared a photo: " + t.BlipCaption + "]"
			}
			c.turns = append(c.turns, locomoTurn{dia: t.DiaID, text: text})
			known[t.DiaID] = true
		}
	}
	for _, q := range file.QA {
		if q.Category < 1 || q.Category > 4 {
			continue
		}
		var ev []string
		for _, e := range q.Evidence {
			// One entry of the release holds two ids: "D8:6; D9:17".
			for _, id := range strings.FieldsFunc(e, func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
				if !slices.Contains(ev, id) {
					ev = append(ev, id)
				}
			}
		}
		if len(ev) == 0 {
			continue
		}
		c.questions = append(c.questions, locomoQuestion{text: q.Question, category: q.Category, evidence: ev})
	}
	if len(c.turns) == 0 || len(c.questions) == 0 {
		return locomoConv{}, fmt.Errorf("locomo: %s: no turns or no questions", path)
	}
	return c, nil
}

// loadLocomoDir reads every conversation of dir, in name order.
func loadLocomoDir(dir string, captions bool) ([]locomoConv, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("locomo: no conversations (*.json) in %s", dir)
	}
	sort.Strings(paths)
	var out []locomoConv
	for _, p := range paths {
		c, err := loadLocomo(p, captions)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// hitAt reports whether every evidence turn is among the first k ranked.
func hitAt(ranked []string, evidence []string, k int) bool {
	top := ranked[:min(k, len(ranked))]
	for _, e := range evidence {
		if !slices.Contains(top, e) {
			return false
		}
	}
	return true
}

// recallAt is the share of questions that are hits at k; ranked[i] is the
// ranking (dia ids, best first) for qs[i].
func recallAt(qs []locomoQuestion, ranked [][]string, k int) float64 {
	hits := 0
	for i, q := range qs {
		if hitAt(ranked[i], q.evidence, k) {
			hits++
		}
	}
	return float64(hits) / float64(len(qs))
}

// rrf fuses rankings by reciprocal rank: each item scores the sum of
// 1/(k + rank) over the rankings it is in, rank counted from 1.
func rrf(k float64, rankings ...[]string) []string {
	score := map[string]float64{}
	var order []string
	for _, r := range rankings {
		for i, id := range r {
			if _, ok := score[id]; !ok {
				order = append(order, id)
			}
			score[id] += 1 / (k + float64(i+1))
		}
	}
	slices.SortStableFunc(order, func(a, b string) int {
		switch {
		case score[a] > score[b]:
			return -1
		case score[a] < score[b]:
			return 1
		}
		return 0
	})
	return order
}
