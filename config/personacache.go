package config

import "time"

// PersonaCache configures the in-process cache of agents' personas on the
// chat path: a persona, shared by all the agent's users, is listed from
// the store at most once per TTL and then ranked in process. Writes
// through this sidecar (memory API, learning) are seen at once; writes
// through another sidecar or the CLI within TTL.
//
// Defaults: ttl 5s, max_agents 1000, max_memories 200 (at most 200,000
// memories held); ttl 0 turns the cache off.
type PersonaCache struct {
	TTL         Duration `yaml:"ttl"`
	MaxAgents   int      `yaml:"max_agents"`
	MaxMemories int      `yaml:"max_memories"`
}

// defaultPersonaCache is the cache's configuration when nothing is set.
func defaultPersonaCache() PersonaCache {
	return PersonaCache{TTL: Duration(5 * time.Second), MaxAgents: 1000, MaxMemories: 200}
}

// validate reports the first persona cache setting that cannot work; bad
// names the setting.
func (p PersonaCache) validate(bad func(key, format string, args ...any) error) error {
	if t := time.Duration(p.TTL); t < 0 || t > time.Hour {
		return bad("recall.persona_cache.ttl", "%v is out of range (0 to 1h; 0 turns the cache off)", t)
	}
	if p.MaxAgents < 1 || p.MaxAgents > 1_000_000 {
		return bad("recall.persona_cache.max_agents", "%d is out of range (1 to 1,000,000)", p.MaxAgents)
	}
	if p.MaxMemories < 1 || p.MaxMemories > 10_000 {
		return bad("recall.persona_cache.max_memories", "%d is out of range (1 to 10,000)", p.MaxMemories)
	}
	return nil
}
