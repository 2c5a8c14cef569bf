// Package config owns memproxy's configuration: one typed Config built from
// defaults, then an optional YAML file (named by MEMPROXY_CONFIG), then
// MEMPROXY_* environment variables, and validated with messages that name
// the setting at fault. No other package reads the environment.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration of the sidecar.
type Config struct {
	// Listen is the address the sidecar serves on. Loopback by default:
	// whoever can reach the port can assert any identity.
	Listen string `yaml:"listen"`
	// OpsListen, when set, serves /healthz, /readyz and /metrics (only)
	// on a second address, e.g. for a kubelet's probes.
	OpsListen string    `yaml:"ops_listen"`
	Upstream  Upstream  `yaml:"upstream"`
	Store     string    `yaml:"store"` // "embedded" or "milvus"
	DataDir   string    `yaml:"data_dir"`
	Milvus    Milvus    `yaml:"milvus"`
	Embedder  string    `yaml:"embedder"` // "static", "hash" or "openai"
	Embedding Embedding `yaml:"embedding"`
	// APIKeys are the keys that open the memory API (Authorization: Token <key>).
	// With none, the memory API refuses every call.
	APIKeys  []string `yaml:"api_keys"`
	Auth     Auth     `yaml:"auth"`
	Identity Identity `yaml:"identity"`
	Recall   Recall   `yaml:"recall"`
	Learn    Learn    `yaml:"learn"`
	// PolicyFile is a YAML file of per-agent rules (see package policies),
	// reloaded when it changes, every PolicyReload.
	PolicyFile   string   `yaml:"policy_file"`
	PolicyReload Duration `yaml:"policy_reload"`
	Limits       Limits   `yaml:"limits"`
	Log          Log      `yaml:"log"`
	// Tracing comes from the standard OTEL_* variables only (LoadTracing).
	Tracing Tracing `yaml:"-"`
}

// Upstream is the OpenAI-compatible server the sidecar forwards to.
type Upstream struct {
	// URL is the base URL an OpenAI SDK would use, e.g.
	// https://api.openai.com/v1. A request to the sidecar's /v1/X goes to URL/X.
	URL string `yaml:"url"`
	// APIKey, when set, replaces the client's Authorization header.
	APIKey string `yaml:"api_key"`
}

// Milvus locates the Milvus server of the milvus store.
type Milvus struct {
	Address        string   `yaml:"address"`
	Token          string   `yaml:"token"`
	Database       string   `yaml:"database"`
	Collection     string   `yaml:"collection"`
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// HealthTimeout bounds each health check of the server (see
	// milvus.Config.HealthTimeout).
	HealthTimeout Duration `yaml:"health_timeout"`
}

// Embedding configures the openai embedder.
type Embedding struct {
	URL        string `yaml:"url"` // default: the upstream URL
	Model      string `yaml:"model"`
	APIKey     string `yaml:"api_key"`    // default: the upstream API key
	Dimensions int    `yaml:"dimensions"` // 0: ask the server at start-up
	CacheSize  int    `yaml:"cache_size"`
}

// Auth guards the chat routes and forwarded paths.
type Auth struct {
	// ClientKeys, when set, are required of every chat and forwarded
	// request (X-Memory-Key, or the bearer token when an upstream key is
	// configured).
	ClientKeys []string `yaml:"client_keys"`
	// IdentitySecret, when set, makes the sidecar accept only identities
	// signed with it (X-Memory-Signature).
	IdentitySecret string `yaml:"identity_secret"`
}

// Identity says where the sidecar finds who a request is for.
type Identity struct {
	UserHeaders  []string `yaml:"user_headers"`
	AgentHeaders []string `yaml:"agent_headers"`
	RunHeaders   []string `yaml:"run_headers"`
	ModeHeaders  []string `yaml:"mode_headers"`
	// FromBody takes the user id from the body's "user" or
	// "safety_identifier" field when no header names one.
	FromBody bool `yaml:"from_body"`
}

// Recall bounds memory retrieval on the chat path.
type Recall struct {
	// Timeout is the latency budget: past it, the request goes upstream
	// without memories.
	Timeout Duration `yaml:"timeout"`
	// Breaker skips recall while the store keeps running out of the
	// budget (see Breaker).
	Breaker Breaker `yaml:"breaker"`
	// PersonaCache keeps agents' personas in process (see PersonaCache).
	PersonaCache PersonaCache `yaml:"persona_cache"`
}

// Learn configures learning from turns.
type Learn struct {
	Enabled bool   `yaml:"enabled"`
	Mode    string `yaml:"mode"` // "raw" or "llm"
	// QueueSize bounds the turns waiting in the outbox.
	QueueSize   int      `yaml:"queue_size"`
	Workers     int      `yaml:"workers"`
	MaxAttempts int      `yaml:"max_attempts"`
	Debounce    Duration `yaml:"debounce"`
	// DrainTimeout is how long a stopping sidecar goes on learning.
	DrainTimeout Duration `yaml:"drain_timeout"`
	// DupThreshold is the similarity at which a fact counts as known.
	DupThreshold float64 `yaml:"dup_threshold"`
	// OutboxOnCorrupt is what start-up does with a damaged outbox file:
	// "quarantine" moves it aside and starts empty, degraded; "fail" stops.
	OutboxOnCorrupt string     `yaml:"outbox_on_corrupt"`
	Extraction      Extraction `yaml:"extraction"`
}

// Extraction configures the model of the llm learning mode.
type Extraction struct {
	URL          string `yaml:"url"` // default: the upstream URL
	Model        string `yaml:"model"`
	APIKey       string `yaml:"api_key"` // default: the upstream API key
	Instructions string `yaml:"instructions"`
}

// Limits bound what a client may send.
type Limits struct {
	MaxBodyBytes   int64 `yaml:"max_body_bytes"`
	MaxHeaderBytes int   `yaml:"max_header_bytes"`
	// MaxConcurrentPerUser bounds one user's chat requests in flight.
	MaxConcurrentPerUser int `yaml:"max_concurrent_per_user"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Duration is a time.Duration written as "150ms" in YAML.
type Duration time.Duration

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 150ms or 5s", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:   "127.0.0.1:8080",
		Upstream: Upstream{URL: "https://api.openai.com/v1"},
		Store:    "embedded",
		DataDir:  "memproxy-data",
		Milvus: Milvus{
			Address: "localhost:19530", Collection: "memproxy_memories",
			ConnectTimeout: Duration(5 * time.Second),
			HealthTimeout:  Duration(1500 * time.Millisecond),
		},
		Embedder:  "static",
		Embedding: Embedding{Model: "text-embedding-3-small", CacheSize: 10000},
		Identity: Identity{
			UserHeaders:  []string{"X-Memory-User-Id"},
			AgentHeaders: []string{"X-Memory-Agent-Id"},
			RunHeaders:   []string{"X-Memory-Run-Id"},
			ModeHeaders:  []string{"X-Memory-Mode"},
		},
		Recall: Recall{Timeout: Duration(150 * time.Millisecond), Breaker: defaultBreaker(), PersonaCache: defaultPersonaCache()},
		Learn: Learn{
			Enabled: true, Mode: "raw", QueueSize: 10000, Workers: 2, MaxAttempts: 12,
			DrainTimeout: Duration(10 * time.Second), DupThreshold: 0.95, OutboxOnCorrupt: "quarantine",
			Extraction: Extraction{Model: "gpt-4o-mini"},
		},
		PolicyReload: Duration(2 * time.Second),
		Limits:       Limits{MaxBodyBytes: 32 << 20, MaxHeaderBytes: 1 << 20},
		Log:          Log{Level: "info", Format: "text"},
	}
}

// A setting binds an environment variable to a field of Config.
type setting struct {
	env  string
	yaml string
	set  func(c *Config, v string) error
}

func str(f func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *f(c) = v; return nil }
}

func list(f func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		*f(c) = out
		return nil
	}
}

func integer[T int | int64](f func(*Config) *T) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", v)
		}
		*f(c) = T(n)
		return nil
	}
}

func boolean(f func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not true or false", v)
		}
		*f(c) = b
		return nil
	}
}

func float(f func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", v)
		}
		*f(c) = x
		return nil
	}
}

func duration(f func(*Config) *Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%q is not a duration like 150ms or 5s", v)
		}
		*f(c) = Duration(d)
		return nil
	}
}

// settings lists every environment variable memproxy reads but
// MEMPROXY_CONFIG. The README's configuration reference follows it.
var settings = []setting{
	{"MEMPROXY_LISTEN", "listen", str(func(c *Config) *string { return &c.Listen })},
	{"MEMPROXY_OPS_LISTEN", "ops_listen", str(func(c *Config) *string { return &c.OpsListen })},
	{"MEMPROXY_UPSTREAM_URL", "upstream.url", str(func(c *Config) *string { return &c.Upstream.URL })},
	{"MEMPROXY_UPSTREAM_API_KEY", "upstream.api_key", str(func(c *Config) *string { return &c.Upstream.APIKey })},
	{"MEMPROXY_STORE", "store", str(func(c *Config) *string { return &c.Store })},
	{"MEMPROXY_DATA_DIR", "data_dir", str(func(c *Config) *string { return &c.DataDir })},
	{"MEMPROXY_MILVUS_ADDRESS", "milvus.address", str(func(c *Config) *string { return &c.Milvus.Address })},
	{"MEMPROXY_MILVUS_TOKEN", "milvus.token", str(func(c *Config) *string { return &c.Milvus.Token })},
	{"MEMPROXY_MILVUS_DATABASE", "milvus.database", str(func(c *Config) *string { return &c.Milvus.Database })},
	{"MEMPROXY_MILVUS_COLLECTION", "milvus.collection", str(func(c *Config) *string { return &c.Milvus.Collection })},
	{"MEMPROXY_MILVUS_CONNECT_TIMEOUT", "milvus.connect_timeout", duration(func(c *Config) *Duration { return &c.Milvus.ConnectTimeout })},
	{"MEMPROXY_MILVUS_HEALTH_TIMEOUT", "milvus.health_timeout", duration(func(c *Config) *Duration { return &c.Milvus.HealthTimeout })},
	{"MEMPROXY_EMBEDDER", "embedder", str(func(c *Config) *string { return &c.Embedder })},
	{"MEMPROXY_EMBEDDING_URL", "embedding.url", str(func(c *Config) *string { return &c.Embedding.URL })},
	{"MEMPROXY_EMBEDDING_MODEL", "embedding.model", str(func(c *Config) *string { return &c.Embedding.Model })},
	{"MEMPROXY_EMBEDDING_API_KEY", "embedding.api_key", str(func(c *Config) *string { return &c.Embedding.APIKey })},
	{"MEMPROXY_EMBEDDING_DIMENSIONS", "embedding.dimensions", integer(func(c *Config) *int { return &c.Embedding.Dimensions })},
	{"MEMPROXY_EMBEDDING_CACHE_SIZE", "embedding.cache_size", integer(func(c *Config) *int { return &c.Embedding.CacheSize })},
	{"MEMPROXY_API_KEYS", "api_keys", list(func(c *Config) *[]string { return &c.APIKeys })},
	{"MEMPROXY_CLIENT_KEYS", "auth.client_keys", list(func(c *Config) *[]string { return &c.Auth.ClientKeys })},
	{"MEMPROXY_IDENTITY_SECRET", "auth.identity_secret", str(func(c *Config) *string { return &c.Auth.IdentitySecret })},
	{"MEMPROXY_USER_ID_HEADERS", "identity.user_headers", list(func(c *Config) *[]string { return &c.Identity.UserHeaders })},
	{"MEMPROXY_AGENT_ID_HEADERS", "identity.agent_headers", list(func(c *Config) *[]string { return &c.Identity.AgentHeaders })},
	{"MEMPROXY_RUN_ID_HEADERS", "identity.run_headers", list(func(c *Config) *[]string { return &c.Identity.RunHeaders })},
	{"MEMPROXY_MODE_HEADERS", "identity.mode_headers", list(func(c *Config) *[]string { return &c.Identity.ModeHeaders })},
	{"MEMPROXY_IDENTITY_FROM_BODY", "identity.from_body", boolean(func(c *Config) *bool { return &c.Identity.FromBody })},
	{"MEMPROXY_RECALL_TIMEOUT", "recall.timeout", duration(func(c *Config) *Duration { return &c.Recall.Timeout })},
	{"MEMPROXY_RECALL_BREAKER", "recall.breaker.enabled", boolean(func(c *Config) *bool { return &c.Recall.Breaker.Enabled })},
	{"MEMPROXY_RECALL_BREAKER_WINDOW", "recall.breaker.window", duration(func(c *Config) *Duration { return &c.Recall.Breaker.Window })},
	{"MEMPROXY_RECALL_BREAKER_MIN_RECALLS", "recall.breaker.min_recalls", integer(func(c *Config) *int { return &c.Recall.Breaker.MinRecalls })},
	{"MEMPROXY_RECALL_BREAKER_FAILURE_RATIO", "recall.breaker.failure_ratio", float(func(c *Config) *float64 { return &c.Recall.Breaker.FailureRatio })},
	{"MEMPROXY_RECALL_BREAKER_COOL_DOWN", "recall.breaker.cool_down", duration(func(c *Config) *Duration { return &c.Recall.Breaker.CoolDown })},
	{"MEMPROXY_PERSONA_CACHE_TTL", "recall.persona_cache.ttl", duration(func(c *Config) *Duration { return &c.Recall.PersonaCache.TTL })},
	{"MEMPROXY_PERSONA_CACHE_MAX_AGENTS", "recall.persona_cache.max_agents", integer(func(c *Config) *int { return &c.Recall.PersonaCache.MaxAgents })},
	{"MEMPROXY_PERSONA_CACHE_MAX_MEMORIES", "recall.persona_cache.max_memories", integer(func(c *Config) *int { return &c.Recall.PersonaCache.MaxMemories })},
	{"MEMPROXY_LEARN", "learn.enabled", boolean(func(c *Config) *bool { return &c.Learn.Enabled })},
	{"MEMPROXY_LEARN_MODE", "learn.mode", str(func(c *Config) *string { return &c.Learn.Mode })},
	{"MEMPROXY_LEARN_QUEUE_SIZE", "learn.queue_size", integer(func(c *Config) *int { return &c.Learn.QueueSize })},
	{"MEMPROXY_LEARN_WORKERS", "learn.workers", integer(func(c *Config) *int { return &c.Learn.Workers })},
	{"MEMPROXY_LEARN_MAX_ATTEMPTS", "learn.max_attempts", integer(func(c *Config) *int { return &c.Learn.MaxAttempts })},
	{"MEMPROXY_LEARN_DEBOUNCE", "learn.debounce", duration(func(c *Config) *Duration { return &c.Learn.Debounce })},
	{"MEMPROXY_LEARN_DRAIN_TIMEOUT", "learn.drain_timeout", duration(func(c *Config) *Duration { return &c.Learn.DrainTimeout })},
	{"MEMPROXY_LEARN_OUTBOX_ON_CORRUPT", "learn.outbox_on_corrupt", str(func(c *Config) *string { return &c.Learn.OutboxOnCorrupt })},
	{"MEMPROXY_LEARN_DUP_THRESHOLD", "learn.dup_threshold", float(func(c *Config) *float64 { return &c.Learn.DupThreshold })},
	{"MEMPROXY_EXTRACTION_URL", "learn.extraction.url", str(func(c *Config) *string { return &c.Learn.Extraction.URL })},
	{"MEMPROXY_EXTRACTION_MODEL", "learn.extraction.model", str(func(c *Config) *string { return &c.Learn.Extraction.Model })},
	{"MEMPROXY_EXTRACTION_API_KEY", "learn.extraction.api_key", str(func(c *Config) *string { return &c.Learn.Extraction.APIKey })},
	{"MEMPROXY_EXTRACTION_INSTRUCTIONS", "learn.extraction.instructions", str(func(c *Config) *string { return &c.Learn.Extraction.Instructions })},
	{"MEMPROXY_POLICY_FILE", "policy_file", str(func(c *Config) *string { return &c.PolicyFile })},
	{"MEMPROXY_POLICY_RELOAD", "policy_reload", duration(func(c *Config) *Duration { return &c.PolicyReload })},
	{"MEMPROXY_MAX_BODY_BYTES", "limits.max_body_bytes", integer(func(c *Config) *int64 { return &c.Limits.MaxBodyBytes })},
	{"MEMPROXY_MAX_HEADER_BYTES", "limits.max_header_bytes", integer(func(c *Config) *int { return &c.Limits.MaxHeaderBytes })},
	{"MEMPROXY_MAX_CONCURRENT_PER_USER", "limits.max_concurrent_per_user", integer(func(c *Config) *int { return &c.Limits.MaxConcurrentPerUser })},
	{"MEMPROXY_LOG_LEVEL", "log.level", str(func(c *Config) *string { return &c.Log.Level })},
	{"MEMPROXY_LOG_FORMAT", "log.format", str(func(c *Config) *string { return &c.Log.Format })},
}

// Load builds the configuration: defaults, then the YAML file named by
// MEMPROXY_CONFIG (if set), then the other MEMPROXY_* variables (and
// MEMPROXY_API_KEY, the alias of MEMPROXY_API_KEYS). getenv is os.Getenv, or
// Getenv of a list of variables.
func Load(getenv func(string) string) (Config, error) {
	c := Default()
	if path := getenv("MEMPROXY_CONFIG"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("MEMPROXY_CONFIG: %w", err)
		}
		if err := c.loadYAML(data); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	for _, s := range settings {
		v, ok := lookup(getenv, s.env)
		if !ok {
			continue
		}
		if err := s.set(&c, v); err != nil {
			return Config{}, fmt.Errorf("%s: %w", s.env, err)
		}
	}
	if err := c.aliasAPIKeys(getenv); err != nil {
		return Config{}, err
	}
	tr, err := LoadTracing(getenv)
	if err != nil {
		return Config{}, err
	}
	c.Tracing = tr
	if c.Embedding.URL == "" {
		c.Embedding.URL = c.Upstream.URL
	}
	if c.Embedding.APIKey == "" {
		c.Embedding.APIKey = c.Upstream.APIKey
	}
	if c.Learn.Extraction.URL == "" {
		c.Learn.Extraction.URL = c.Upstream.URL
	}
	if c.Learn.Extraction.APIKey == "" {
		c.Learn.Extraction.APIKey = c.Upstream.APIKey
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// lookup treats a variable set to the empty string as unset, as most
// container tooling cannot tell the two apart.
func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func (c *Config) loadYAML(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// name says how a setting is spelled in the file and the environment.
func name(yamlKey string) string {
	for _, s := range settings {
		if s.yaml == yamlKey {
			return fmt.Sprintf("%s (%s)", s.yaml, s.env)
		}
	}
	return yamlKey
}

// Validate reports the first setting that cannot work, by name.
func (c *Config) Validate() error {
	bad := func(key, format string, args ...any) error {
		return fmt.Errorf("%s: %s", name(key), fmt.Sprintf(format, args...))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("listen", "%q is not host:port: %v", c.Listen, err)
	}
	if c.OpsListen != "" {
		if _, _, err := net.SplitHostPort(c.OpsListen); err != nil {
			return bad("ops_listen", "%q is not host:port: %v", c.OpsListen, err)
		}
	}
	if err := checkURL(c.Upstream.URL); err != nil {
		return bad("upstream.url", "%v", err)
	}
	switch c.Store {
	case "embedded", "milvus":
	default:
		return bad("store", "%q is not embedded or milvus", c.Store)
	}
	if c.DataDir == "" {
		return bad("data_dir", "must not be empty: the outbox of turns to learn from lives there, and the embedded store")
	}
	if c.Store == "milvus" {
		if _, _, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(c.Milvus.Address, "http://"), "https://")); err != nil {
			return bad("milvus.address", "%q is not host:port", c.Milvus.Address)
		}
		if c.Milvus.Collection == "" {
			return bad("milvus.collection", "must not be empty")
		}
		if c.Milvus.ConnectTimeout <= 0 {
			return bad("milvus.connect_timeout", "must be positive")
		}
		if c.Milvus.HealthTimeout <= 0 {
			return bad("milvus.health_timeout", "must be positive")
		}
	}
	switch c.Embedder {
	case "static", "hash":
	case "openai":
		if err := checkURL(c.Embedding.URL); err != nil {
			return bad("embedding.url", "%v", err)
		}
		if c.Embedding.Model == "" {
			return bad("embedding.model", "must not be empty with the openai embedder")
		}
	default:
		return bad("embedder", "%q is not static, hash or openai", c.Embedder)
	}
	if c.Embedder == "static" && c.Embedding.Dimensions != 0 && c.Embedding.Dimensions != 128 {
		return bad("embedding.dimensions", "the static embedder has 128 dimensions, not %d (leave it 0)", c.Embedding.Dimensions)
	}
	if c.Embedding.Dimensions < 0 || c.Embedding.Dimensions > 65536 {
		return bad("embedding.dimensions", "%d is out of range (0 to probe, or 1 to 65536)", c.Embedding.Dimensions)
	}
	if c.Embedding.CacheSize < 0 {
		return bad("embedding.cache_size", "must not be negative")
	}
	for key, keys := range map[string][]string{"api_keys": c.APIKeys, "auth.client_keys": c.Auth.ClientKeys} {
		for _, k := range keys {
			if k == "" || strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				return bad(key, "a key is empty or holds white space or control characters")
			}
		}
	}
	if s := c.Auth.IdentitySecret; s != "" && len(s) < 16 {
		return bad("auth.identity_secret", "is %d bytes; use at least 16 random bytes", len(s))
	}
	usedBy := map[string]string{}
	for _, l := range []struct {
		key string
		hs  []string
	}{
		{"identity.user_headers", c.Identity.UserHeaders}, {"identity.agent_headers", c.Identity.AgentHeaders},
		{"identity.run_headers", c.Identity.RunHeaders}, {"identity.mode_headers", c.Identity.ModeHeaders},
	} {
		if len(l.hs) == 0 {
			return bad(l.key, "needs at least one header name")
		}
		for _, h := range l.hs {
			if !validHeaderName(h) {
				return bad(l.key, "%q is not a valid header name", h)
			}
			canon := textproto.CanonicalMIMEHeaderKey(h)
			if reservedHeaders[canon] {
				// Identity headers are removed before the upstream call.
				return bad(l.key, "%q is a header the upstream needs; choose another name", h)
			}
			if other, ok := usedBy[canon]; ok {
				return bad(l.key, "%q is also in %s", h, other)
			}
			usedBy[canon] = l.key
		}
	}
	if t := time.Duration(c.Recall.Timeout); t <= 0 || t > time.Minute {
		return bad("recall.timeout", "%v is out of range (more than 0, at most 1m)", t)
	}
	if err := c.Recall.Breaker.validate(bad); err != nil {
		return err
	}
	if err := c.Recall.PersonaCache.validate(bad); err != nil {
		return err
	}
	switch c.Learn.Mode {
	case "raw":
	case "llm":
		if err := checkURL(c.Learn.Extraction.URL); err != nil {
			return bad("learn.extraction.url", "%v", err)
		}
		if c.Learn.Extraction.Model == "" {
			return bad("learn.extraction.model", "must not be empty with the llm learning mode")
		}
	default:
		return bad("learn.mode", "%q is not raw or llm", c.Learn.Mode)
	}
	if m := c.Learn.OutboxOnCorrupt; m != "quarantine" && m != "fail" {
		return bad("learn.outbox_on_corrupt", "%q is not quarantine or fail", m)
	}
	for key, n := range map[string]int{"learn.queue_size": c.Learn.QueueSize, "learn.workers": c.Learn.Workers, "learn.max_attempts": c.Learn.MaxAttempts} {
		if n <= 0 {
			return bad(key, "must be positive")
		}
	}
	if c.Learn.Debounce < 0 || c.Learn.DrainTimeout < 0 {
		return bad("learn.debounce", "durations must not be negative")
	}
	if c.Learn.DupThreshold <= 0 || c.Learn.DupThreshold > 1 {
		return bad("learn.dup_threshold", "%v is out of range (more than 0, at most 1)", c.Learn.DupThreshold)
	}
	if c.PolicyReload < 0 {
		return bad("policy_reload", "must not be negative (0 turns reloading off)")
	}
	if c.Limits.MaxBodyBytes <= 0 {
		return bad("limits.max_body_bytes", "must be positive")
	}
	if c.Limits.MaxHeaderBytes < 4096 {
		return bad("limits.max_header_bytes", "must be at least 4096")
	}
	if c.Limits.MaxConcurrentPerUser < 0 {
		return bad("limits.max_concurrent_per_user", "must not be negative (0: no bound)")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return bad("log.format", "%q is not text or json", c.Log.Format)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an http or https URL with a host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not have a query or fragment", s)
	}
	return nil
}

// reservedHeaders cannot carry identity: they mean something to HTTP or
// to the upstream, and identity headers are stripped before forwarding.
var reservedHeaders = map[string]bool{}

func init() {
	for _, h := range []string{"Authorization", "Host", "Content-Type", "Content-Length", "Content-Encoding",
		"Transfer-Encoding", "Connection", "Cookie", "Accept", "Accept-Encoding", "User-Agent", "Expect",
		"Upgrade", "Te", "Trailer", "Proxy-Authorization", "Openai-Organization", "Openai-Project",
		"Openai-Beta", "Api-Key", "X-Api-Key", "Idempotency-Key"} {
		reservedHeaders[h] = true
	}
}

// validHeaderName reports whether s is an HTTP field name (RFC 9110 token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r >= 0x7f || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}
