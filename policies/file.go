package policies

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// A policy file is YAML: defaults for every agent, then rules matched by
// agent id. A rule's pattern is an agent id, or a glob with * (any run of
// characters) and ? (one character); when several match, the most specific
// wins: an exact id, then the pattern with the most literal characters,
// then the one written first. A rule sets only what it names; the rest
// comes from the defaults.
//
//	defaults:
//	  recall: {token_budget: 800}
//	  redact: {types: [email, phone, card, gov_id]}
//	agents:
//	  - match: "fitcoach_*"
//	    recall:
//	      relationship: {top_k: 8}
//	  - match: calculator_v1
//	    recall: {user: {enabled: false}, relationship: {enabled: false}}
//	    learn: {enabled: false}

type file struct {
	Defaults *policyPatch `yaml:"defaults"`
	Agents   []agentRule  `yaml:"agents"`
}

type agentRule struct {
	Match       at[string] `yaml:"match"`
	policyPatch `yaml:",inline"`
}

type policyPatch struct {
	Recall *recallPatch `yaml:"recall"`
	Learn  *learnPatch  `yaml:"learn"`
	Redact *redactPatch `yaml:"redact"`
}

type recallPatch struct {
	Enabled      *at[bool]     `yaml:"enabled"`
	Persona      *layerPatch   `yaml:"persona"`
	User         *layerPatch   `yaml:"user"`
	Relationship *layerPatch   `yaml:"relationship"`
	Run          *layerPatch   `yaml:"run"`
	TokenBudget  *at[int]      `yaml:"token_budget"`
	Order        *at[string]   `yaml:"order"`
	Query        *queryPatch   `yaml:"query"`
	Wording      *wordingPatch `yaml:"wording"`
	Share        *at[bool]     `yaml:"share_relationships"`
}

type layerPatch struct {
	Enabled     *at[bool]    `yaml:"enabled"`
	TopK        *at[int]     `yaml:"top_k"`
	MinScore    *at[float64] `yaml:"min_score"`
	TokenBudget *at[int]     `yaml:"token_budget"`
}

type queryPatch struct {
	Source *at[string] `yaml:"source"`
	N      *at[int]    `yaml:"n"`
}

type wordingPatch struct {
	Preamble     *at[string] `yaml:"preamble"`
	Persona      *at[string] `yaml:"persona"`
	User         *at[string] `yaml:"user"`
	Relationship *at[string] `yaml:"relationship"`
	Run          *at[string] `yaml:"run"`
}

type learnPatch struct {
	Enabled            *at[bool]          `yaml:"enabled"`
	Mode               *at[string]        `yaml:"mode"`
	Roles              *at[[]string]      `yaml:"roles"`
	MinChars           *at[int]           `yaml:"min_chars"`
	Skip               *at[[]string]      `yaml:"skip_patterns"`
	Categories         *categoriesPatch   `yaml:"categories"`
	Instructions       *at[string]        `yaml:"instructions"`
	TTL                *at[time.Duration] `yaml:"ttl"`
	PersonaFromReplies *at[bool]          `yaml:"persona_from_replies"`
	Scope              *at[string]        `yaml:"scope"`
}

type categoriesPatch struct {
	Keep *at[[]string] `yaml:"keep"`
	Drop *at[[]string] `yaml:"drop"`
}

type redactPatch struct {
	Types  *at[[]string]     `yaml:"types"`
	Custom *at[[]customYAML] `yaml:"custom"`
}

type customYAML struct {
	Name    string `yaml:"name"`
	Pattern string `yaml:"pattern"`
}

// at is a value with the line it was written on, for error messages.
type at[T any] struct {
	V    T
	Line int
}

func (a *at[T]) UnmarshalYAML(n *yaml.Node) error {
	a.Line = n.Line
	if d, ok := any(&a.V).(*time.Duration); ok {
		v, err := time.ParseDuration(n.Value)
		if err != nil {
			return fmt.Errorf("line %d: %q is not a duration like 720h or 30m", n.Line, n.Value)
		}
		*d = v
		return nil
	}
	if err := n.Decode(&a.V); err != nil {
		return fmt.Errorf("line %d: %w", n.Line, unwrapYAML(err))
	}
	return nil
}

// unwrapYAML drops the "yaml: unmarshal errors:" frame of a nested decode.
func unwrapYAML(err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		return errors.New(strings.TrimSpace(te.Errors[0]))
	}
	return err
}

// A Set is a parsed policy file: immutable, safe for concurrent use.
type Set struct {
	defaults Policy
	rules    []rule
}

type rule struct {
	pattern string
	exact   bool
	literal int // characters that are not wildcards
	policy  Policy
}

// Parse reads a policy file, layering its defaults over base (the
// server's configuration) and its rules over those defaults. Errors name
// the line at fault.
func Parse(data []byte, base Policy) (*Set, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	s := &Set{defaults: base}
	s.defaults.Name = "default"
	if f.Defaults != nil {
		if err := f.Defaults.apply(&s.defaults, "defaults"); err != nil {
			return nil, err
		}
	}
	seen := map[string]int{}
	for i, a := range f.Agents {
		pat := a.Match.V
		where := fmt.Sprintf("agents[%d]", i)
		if pat == "" {
			line := a.Match.Line
			if line == 0 {
				return nil, fmt.Errorf("%s: match is required", where)
			}
			return nil, fmt.Errorf("line %d: %s: match must not be empty", line, where)
		}
		if prev, dup := seen[pat]; dup {
			return nil, fmt.Errorf("line %d: %s: match %q repeats the rule on line %d", a.Match.Line, where, pat, prev)
		}
		seen[pat] = a.Match.Line
		p := s.defaults
		p.Name = pat
		if err := a.policyPatch.apply(&p, where); err != nil {
			return nil, err
		}
		wild := strings.Count(pat, "*") + strings.Count(pat, "?")
		s.rules = append(s.rules, rule{pattern: pat, exact: wild == 0, literal: len(pat) - wild, policy: p})
	}
	return s, nil
}

// For returns the policy of an agent: its most specific rule over the
// defaults, or the defaults.
func (s *Set) For(agentID string) Policy {
	if r := s.match(agentID); r != nil {
		return r.policy
	}
	return s.defaults
}

func (s *Set) match(agentID string) *rule {
	if agentID == "" {
		return nil
	}
	var best *rule
	for i := range s.rules {
		r := &s.rules[i]
		if !glob(r.pattern, agentID) {
			continue
		}
		if best == nil || r.exact && !best.exact || r.exact == best.exact && r.literal > best.literal {
			best = r
		}
	}
	return best
}

// Patterns returns the rules' patterns in file order.
func (s *Set) Patterns() []string {
	out := make([]string, len(s.rules))
	for i, r := range s.rules {
		out[i] = r.pattern
	}
	return out
}

// glob matches name against a pattern of literal characters, * and ?.
func glob(pattern, name string) bool {
	p, n := []rune(pattern), []rune(name)
	// Iterative matching with backtracking to the last star.
	pi, ni, star, mark := 0, 0, -1, 0
	for ni < len(n) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == n[ni]):
			pi++
			ni++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ni
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ni = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

func (pp *policyPatch) apply(p *Policy, where string) error {
	if pp.Recall != nil {
		if err := pp.Recall.apply(&p.Recall, where+".recall"); err != nil {
			return err
		}
	}
	if pp.Learn != nil {
		if err := pp.Learn.apply(&p.Learn, where+".learn"); err != nil {
			return err
		}
	}
	if pp.Redact != nil {
		// types replaces the inherited built-in kinds; custom patterns add
		// to the inherited ones (one of the same name replaces it), so that
		// a rule cannot drop an organisation-wide pattern by adding its own.
		cfg := p.Redact.Config()
		line := 0
		if pp.Redact.Types != nil {
			cfg.Types, line = pp.Redact.Types.V, pp.Redact.Types.Line
		}
		if pp.Redact.Custom != nil {
			line = pp.Redact.Custom.Line
			for _, c := range pp.Redact.Custom.V {
				cfg.Custom = slices.DeleteFunc(cfg.Custom, func(o CustomPattern) bool { return o.Name == c.Name })
				cfg.Custom = append(cfg.Custom, CustomPattern(c))
			}
		}
		r, err := NewRedactor(cfg)
		if err != nil {
			return fmt.Errorf("line %d: %s.redact: %w", line, where, err)
		}
		p.Redact = r
	}
	return nil
}

func bad(line int, where, format string, args ...any) error {
	return fmt.Errorf("line %d: %s: %s", line, where, fmt.Sprintf(format, args...))
}

func setInt(dst *int, v *at[int], where string, lo, hi int) error {
	if v == nil {
		return nil
	}
	if v.V < lo || v.V > hi {
		return bad(v.Line, where, "%d is out of range (%d to %d)", v.V, lo, hi)
	}
	*dst = v.V
	return nil
}

func setBool(dst *bool, v *at[bool]) {
	if v != nil {
		*dst = v.V
	}
}

func setOneOf(dst *string, v *at[string], where string, allowed ...string) error {
	if v == nil {
		return nil
	}
	if !slices.Contains(allowed, v.V) {
		return bad(v.Line, where, "%q is not %s", v.V, strings.Join(allowed, " or "))
	}
	*dst = v.V
	return nil
}

func (rp *recallPatch) apply(r *Recall, where string) error {
	setBool(&r.Enabled, rp.Enabled)
	setBool(&r.ShareRelationships, rp.Share)
	for _, l := range []struct {
		name  string
		patch *layerPatch
		dst   *Layer
	}{{"persona", rp.Persona, &r.Persona}, {"user", rp.User, &r.User}, {"relationship", rp.Relationship, &r.Relationship}, {"run", rp.Run, &r.Run}} {
		if l.patch == nil {
			continue
		}
		w := where + "." + l.name
		setBool(&l.dst.Enabled, l.patch.Enabled)
		if err := setInt(&l.dst.TopK, l.patch.TopK, w+".top_k", 0, 1000); err != nil {
			return err
		}
		if s := l.patch.MinScore; s != nil {
			if s.V < 0 || s.V > 1 {
				return bad(s.Line, w+".min_score", "%v is out of range (0 to 1)", s.V)
			}
			l.dst.MinScore = s.V
		}
		if err := setInt(&l.dst.TokenBudget, l.patch.TokenBudget, w+".token_budget", 0, 100000); err != nil {
			return err
		}
	}
	if err := setInt(&r.TokenBudget, rp.TokenBudget, where+".token_budget", 1, 100000); err != nil {
		return err
	}
	if err := setOneOf(&r.Order, rp.Order, where+".order", OrderRelevance, OrderRecency); err != nil {
		return err
	}
	if q := rp.Query; q != nil {
		if err := setOneOf(&r.QuerySource, q.Source, where+".query.source", QueryLastUser, QueryLastN); err != nil {
			return err
		}
		if err := setInt(&r.QueryN, q.N, where+".query.n", 1, 50); err != nil {
			return err
		}
	}
	if w := rp.Wording; w != nil {
		for _, f := range []struct {
			name string
			v    *at[string]
			dst  *string
		}{{"preamble", w.Preamble, &r.Wording.Preamble}, {"persona", w.Persona, &r.Wording.Persona}, {"user", w.User, &r.Wording.User},
			{"relationship", w.Relationship, &r.Wording.Relationship}, {"run", w.Run, &r.Wording.Run}} {
			if f.v == nil {
				continue
			}
			if strings.Contains(strings.ToLower(f.v.V), "memproxy-memories") || len(f.v.V) > 2000 {
				return bad(f.v.Line, where+".wording."+f.name, "must not contain the block's delimiter and must be at most 2000 bytes")
			}
			*f.dst = f.v.V
		}
	}
	return nil
}

func (lp *learnPatch) apply(l *Learn, where string) error {
	setBool(&l.Enabled, lp.Enabled)
	setBool(&l.PersonaFromReplies, lp.PersonaFromReplies)
	if err := setOneOf(&l.Mode, lp.Mode, where+".mode", ModeRaw, ModeLLM); err != nil {
		return err
	}
	if err := setOneOf(&l.Scope, lp.Scope, where+".scope", ScopeAuto, ScopeUser, ScopeRelationship); err != nil {
		return err
	}
	if r := lp.Roles; r != nil {
		if len(r.V) == 0 {
			return bad(r.Line, where+".roles", "needs at least one role")
		}
		for _, role := range r.V {
			if role != "user" && role != "assistant" {
				return bad(r.Line, where+".roles", "%q is not user or assistant", role)
			}
		}
		l.Roles = slices.Clone(r.V)
	}
	if err := setInt(&l.MinChars, lp.MinChars, where+".min_chars", 0, 10000); err != nil {
		return err
	}
	if s := lp.Skip; s != nil {
		l.Skip = nil
		for _, src := range s.V {
			p, err := CompilePattern(src)
			if err != nil {
				return bad(s.Line, where+".skip_patterns", "%v", err)
			}
			l.Skip = append(l.Skip, p)
		}
	}
	if c := lp.Categories; c != nil {
		for _, f := range []struct {
			name string
			v    *at[[]string]
			dst  *[]string
		}{{"keep", c.Keep, &l.KeepCategories}, {"drop", c.Drop, &l.DropCategories}} {
			if f.v == nil {
				continue
			}
			for _, cat := range f.v.V {
				if !slices.Contains(Categories, cat) {
					return bad(f.v.Line, where+".categories."+f.name, "unknown category %q (known: %s)", cat, strings.Join(Categories, ", "))
				}
			}
			*f.dst = slices.Clone(f.v.V)
		}
	}
	if i := lp.Instructions; i != nil {
		if len(i.V) > 4000 {
			return bad(i.Line, where+".instructions", "at most 4000 bytes")
		}
		l.Instructions = i.V
	}
	if t := lp.TTL; t != nil {
		if t.V < 0 {
			return bad(t.Line, where+".ttl", "must not be negative")
		}
		l.TTL = t.V
	}
	return nil
}

// Categories are the kinds of fact learning sorts memories into, after the
// Mem0 platform's defaults.
var Categories = []string{
	"personal_details", "family", "professional_details", "sports", "travel", "food", "music", "health",
	"technology", "hobbies", "fashion", "entertainment", "milestones", "user_preferences", "misc",
}
