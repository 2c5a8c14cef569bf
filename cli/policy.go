package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/policies"
	"github.com/memproxy/memproxy/proxy"
	"github.com/memproxy/memproxy/sidecar"
)

const policyUsage = `usage:
  memproxy policy check FILE
      Parses a policy file and summarises its rules; exits 1 with the line at fault.
  memproxy policy explain -agent A [-user U] [-run R] [-query Q] [-message M] [-file FILE]
      Says which rule governs the agent, what a request would recall (opening
      the configured store) and what would be learned from -message.
  memproxy policy explain -via http://127.0.0.1:8080 -key KEY -agent A ...
      Asks a running sidecar instead (its embedded store is locked while it runs),
      which uses its own policy file: -file cannot go with -via.`

// policyCommand runs `memproxy policy ...` and returns the exit code.
func policyCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, policyUsage)
		return 2
	}
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprintln(stdout, policyUsage)
		return 0
	}
	switch args[0] {
	case "check":
		if len(args) != 2 {
			fmt.Fprintln(stderr, policyUsage)
			return 2
		}
		return policyCheck(args[1], getenv, stdout, stderr)
	case "explain":
		return policyExplain(ctx, args[1:], getenv, stdout, stderr)
	}
	fmt.Fprintln(stderr, policyUsage)
	return 2
}

// base is the policy a file's defaults are laid over: the configuration's,
// or the built-in defaults if the configuration does not load.
func base(getenv func(string) string, stderr io.Writer) (config.Config, policies.Policy) {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "note: configuration not loaded (%v); using the built-in defaults\n", err)
		return config.Default(), policies.Default()
	}
	return cfg, sidecar.BasePolicy(cfg)
}

func policyCheck(path string, getenv func(string) string, stdout, stderr io.Writer) int {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(stderr, "memproxy policy check:", err)
		return 1
	}
	_, b := base(getenv, stderr)
	set, err := policies.Parse(data, b)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok; rules: %d\n", path, len(set.Patterns()))
	fmt.Fprintf(stdout, "  %-20s %s\n", "(defaults)", summary(set.For("")))
	for _, p := range set.Patterns() {
		fmt.Fprintf(stdout, "  %-20s %s\n", p, summary(set.For(p)))
	}
	return 0
}

// summary is a policy on one line.
func summary(p policies.Policy) string {
	layer := func(name string, l policies.Layer) string {
		if !l.Enabled {
			return name + " off"
		}
		return fmt.Sprintf("%s %d", name, l.TopK)
	}
	var b strings.Builder
	if p.Recall.Enabled {
		fmt.Fprintf(&b, "recall %s, %s, %s, %s; %d tokens; %s",
			layer("persona", p.Recall.Persona), layer("user", p.Recall.User), layer("relationship", p.Recall.Relationship),
			layer("run", p.Recall.Run), p.Recall.TokenBudget, p.Recall.Order)
	} else {
		b.WriteString("recall off")
	}
	if p.Learn.Enabled {
		fmt.Fprintf(&b, " | learn %s", p.Learn.Mode)
		if p.Learn.TTL > 0 {
			fmt.Fprintf(&b, ", ttl %s", p.Learn.TTL)
		}
	} else {
		b.WriteString(" | learn off")
	}
	fmt.Fprintf(&b, " | redact %s", strings.Join(p.Redact.Types(), ","))
	return b.String()
}

func policyExplain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("memproxy policy explain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var req proxy.ExplainRequest
	fs.StringVar(&req.AgentID, "agent", "", "agent id")
	fs.StringVar(&req.UserID, "user", "", "user id")
	fs.StringVar(&req.RunID, "run", "", "run id")
	fs.StringVar(&req.Query, "query", "", "a user message to recall memories for")
	fs.StringVar(&req.Message, "message", "", "a user message, to see what would be learned from it")
	file := fs.String("file", "", "policy file (default: MEMPROXY_POLICY_FILE); not with -via")
	via := fs.String("via", "", "URL of a running sidecar to ask")
	key := fs.String("key", "", "memory API key for -via (default: the first of MEMPROXY_API_KEYS, or MEMPROXY_API_KEY)")
	if slices.ContainsFunc(args, isHelp) {
		// Asked for: the flags go to stdout, and that is a success.
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if req.AgentID == "" && req.UserID == "" {
		fmt.Fprintln(stderr, "memproxy policy explain: give -agent, -user or both")
		return 2
	}
	if *via != "" {
		fileSet := false
		fs.Visit(func(f *flag.Flag) { fileSet = fileSet || f.Name == "file" })
		if fileSet {
			// The sidecar explains with the policy file it was started
			// with; a local file would be silently ignored.
			fmt.Fprintln(stderr, "memproxy policy explain: -file and -via cannot be used together: a running sidecar explains with its own policy file (MEMPROXY_POLICY_FILE, as it was started).\n"+
				"To try FILE, drop -via: memproxy policy explain -file FILE -agent A ... (stop the sidecar first if it holds the embedded store).")
			return 2
		}
		return explainVia(ctx, *via, *key, req, getenv, stdout, stderr)
	}

	cfg, b := base(getenv, stderr)
	var src policies.Source = policies.Static(b)
	if *file == "" {
		*file = cfg.PolicyFile
	}
	if *file != "" {
		data, err := os.ReadFile(*file)
		if err != nil {
			fmt.Fprintln(stderr, "memproxy policy explain:", err)
			return 1
		}
		set, err := policies.Parse(data, b)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", *file, err)
			return 1
		}
		src = set
	}
	var recaller proxy.Recaller
	if req.Query != "" || req.UserID != "" {
		log := sidecar.NewLogger(config.Log{Level: "error", Format: "text"}, stderr)
		embedder, err := sidecar.NewEmbedder(ctx, cfg, log)
		if err == nil {
			var store memory.Store
			if store, err = sidecar.OpenStore(ctx, cfg, embedder, log); err == nil {
				defer store.Close()
				recaller = &memory.Retriever{Store: store, Embedder: embedder}
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "note: nothing recalled: %v\n(a running sidecar locks its embedded store: ask it with -via URL -key KEY)\n", err)
		}
	}
	return printJSON(stdout, stderr, proxy.Explain(ctx, src, recaller, req))
}

func explainVia(ctx context.Context, base, key string, req proxy.ExplainRequest, getenv func(string) string, stdout, stderr io.Writer) int {
	if key == "" {
		keys := getenv("MEMPROXY_API_KEYS")
		if keys == "" {
			keys = getenv("MEMPROXY_API_KEY") // the alias the sidecar also reads
		}
		key, _, _ = strings.Cut(keys, ",")
	}
	q := url.Values{}
	for k, v := range map[string]string{"agent_id": req.AgentID, "user_id": req.UserID, "run_id": req.RunID, "query": req.Query, "message": req.Message} {
		if v != "" {
			q.Set(k, v)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(base, "/")+"/memproxy/explain?"+q.Encode(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "memproxy policy explain:", err)
		return 1
	}
	hreq.Header.Set("Authorization", "Token "+strings.TrimSpace(key))
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		fmt.Fprintln(stderr, "memproxy policy explain:", err)
		return 1
	}
	defer resp.Body.Close()
	var out any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		fmt.Fprintf(stderr, "memproxy policy explain: %s answered %s, not JSON\n", base, resp.Status)
		return 1
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := json.Marshal(out)
		fmt.Fprintf(stderr, "memproxy policy explain: %s: %s\n", resp.Status, b)
		return 1
	}
	return printJSON(stdout, stderr, out)
}

func printJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(stderr, errors.Join(errors.New("memproxy policy explain"), err))
		return 1
	}
	return 0
}
