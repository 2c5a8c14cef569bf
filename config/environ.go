package config

import (
	"fmt"
	"slices"
	"strings"
)

// apiKeyAlias is the singular of MEMPROXY_API_KEYS. A user who has just
// exported MEMPROXY_API_KEY for a client of the memory API, or who guesses
// the singular, means the key to open the API: silently ignoring it would
// leave the API closed with nothing said. So it is read as an alias when it
// is alone, and refused when it names a key MEMPROXY_API_KEYS does not hold.
const apiKeyAlias = "MEMPROXY_API_KEY"

// aliasAPIKeys applies MEMPROXY_API_KEY, if set, after the other variables.
func (c *Config) aliasAPIKeys(getenv func(string) string) error {
	v, ok := lookup(getenv, apiKeyAlias)
	if !ok {
		return nil
	}
	var alias Config
	list(func(c *Config) *[]string { return &c.APIKeys })(&alias, v)
	if _, ok := lookup(getenv, "MEMPROXY_API_KEYS"); !ok {
		c.APIKeys = alias.APIKeys
		return nil
	}
	for _, k := range alias.APIKeys {
		if !slices.Contains(c.APIKeys, k) {
			// The keys themselves are secrets: name the variables only.
			return fmt.Errorf("%s holds a key that MEMPROXY_API_KEYS does not: the memory API's keys are MEMPROXY_API_KEYS "+
				"(%s, the name clients use, is read as its alias only alone); unset %s or add its key to MEMPROXY_API_KEYS",
				apiKeyAlias, apiKeyAlias, apiKeyAlias)
		}
	}
	return nil
}

// Getenv looks names up in environ, a list of "NAME=value" as os.Environ
// returns it. Of a name given twice the last value counts, as in os/exec.
func Getenv(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return func(name string) string { return m[name] }
}

// Variables lists every environment variable memproxy reads: the settings,
// MEMPROXY_CONFIG and the MEMPROXY_API_KEY alias.
func Variables() []string {
	names := []string{"MEMPROXY_CONFIG"}
	for _, s := range settings {
		names = append(names, s.env)
	}
	return append(names, apiKeyAlias)
}

// notSettings are MEMPROXY_* variables memproxy does not read that are
// nonetheless not mistakes: a shell that runs the sidecar often runs its
// clients and its tests too.
var notSettings = map[string]bool{
	"MEMPROXY_URL":          true, // where the README's clients find the sidecar
	"MEMPROXY_PPROF_LISTEN": true, // read by builds with the pprof tag (pprof.go)
	"MEMPROXY_REQUIRE_SDKS": true, // scripts/test.sh
}

// hints map names people reach for, too far from memproxy's to be caught
// by their spelling, to the setting they mean.
var hints = map[string]string{
	"MEMPROXY_ADDR":            "MEMPROXY_LISTEN",
	"MEMPROXY_LISTEN_ADDR":     "MEMPROXY_LISTEN",
	"MEMPROXY_LISTEN_ADDRESS":  "MEMPROXY_LISTEN",
	"MEMPROXY_PORT":            "MEMPROXY_LISTEN",
	"MEMPROXY_HOST":            "MEMPROXY_LISTEN",
	"MEMPROXY_OPENAI_API_KEY":  "MEMPROXY_UPSTREAM_API_KEY",
	"MEMPROXY_OPENAI_BASE_URL": "MEMPROXY_UPSTREAM_URL",
	"MEMPROXY_BASE_URL":        "MEMPROXY_UPSTREAM_URL",
	"MEMPROXY_UPSTREAM":        "MEMPROXY_UPSTREAM_URL",
	"MEMPROXY_MILVUS_URI":      "MEMPROXY_MILVUS_ADDRESS",
	"MEMPROXY_MEMORY_API_KEYS": "MEMPROXY_API_KEYS",
	"MEMPROXY_MEMORY_API_KEY":  "MEMPROXY_API_KEYS",
}

// An UnknownVariable is a MEMPROXY_* environment variable that memproxy
// does not read: most likely a misspelt setting, whose value is ignored.
type UnknownVariable struct {
	Name    string
	Closest string // the setting it most resembles, or "" when none is close
}

func (u UnknownVariable) String() string {
	s := u.Name + " is not a memproxy setting and is ignored"
	if u.Closest != "" {
		s += "; did you mean " + u.Closest + "?"
	}
	return s
}

// Unknown lists the variables of environ (as os.Environ returns it) that
// look like memproxy's, MEMPROXY_ in any case, but that it does not read,
// each with the known name closest to it.
func Unknown(environ []string) []UnknownVariable {
	known := Variables()
	var out []UnknownVariable
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		if !strings.HasPrefix(upper, "MEMPROXY_") || slices.Contains(known, name) ||
			notSettings[name] || strings.HasPrefix(name, "MEMPROXY_TEST_") {
			continue
		}
		out = append(out, UnknownVariable{Name: name, Closest: closest(upper, known)})
	}
	return out
}

// closest is the known name nearest to name by edit distance, if it is
// near enough to be a slip rather than another word.
func closest(name string, known []string) string {
	if h, ok := hints[name]; ok {
		return h
	}
	suffix := strings.TrimPrefix(name, "MEMPROXY_")
	best, bestDist := "", max(2, len(suffix)/3)+1
	for _, k := range known {
		if d := distance(suffix, strings.TrimPrefix(k, "MEMPROXY_")); d < bestDist {
			best, bestDist = k, d
		}
	}
	return best
}

// distance is the optimal string alignment distance of a and b: the
// insertions, deletions, substitutions and transpositions of adjacent
// bytes that turn one into the other.
func distance(a, b string) int {
	// d[i][j] is the distance of a[:i] and b[:j]; three rows suffice.
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
