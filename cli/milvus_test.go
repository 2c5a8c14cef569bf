package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/milvus-io/milvus/client/v2/milvusclient"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/milvus"
	"github.com/memproxy/memproxy/memory/storetest"
	"github.com/memproxy/memproxy/sidecar"
)

func TestMilvusUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		code int
		want string
	}{
		{[]string{"milvus"}, quiet, exitUsage, "copy FROM"},
		{[]string{"milvus", "copy"}, quiet, exitUsage, "copy FROM"},
		{[]string{"milvus", "copy", "memproxy_memories"}, quiet, exitUsage, "both the source and MEMPROXY_MILVUS_COLLECTION"},
		{[]string{"milvus", "--help"}, quiet, exitOK, "BM25"},
		{[]string{"help", "milvus"}, quiet, exitOK, "BM25"},
	} {
		code, out, errOut, _ := runIn(t, tc.env, tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("memproxy %v: exit %d, %q %q; want exit %d mentioning %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}

// TestMilvusCopy runs `memproxy milvus copy` against Milvus Lite: the
// memories of the old collection arrive in the configured one, and a
// second run copies nothing.
func TestMilvusCopy(t *testing.T) {
	addr := storetest.MilvusServers(t)["lite"]
	if addr == "" {
		t.Skip("needs Milvus Lite")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	suffix := make([]byte, 6)
	rand.Read(suffix)
	from, to := "memproxy_cli_old_"+hex.EncodeToString(suffix), "memproxy_cli_new_"+hex.EncodeToString(suffix)
	env := append([]string{"MEMPROXY_STORE=milvus", "MEMPROXY_MILVUS_ADDRESS=" + addr, "MEMPROXY_MILVUS_COLLECTION=" + to}, quiet...)
	t.Cleanup(func() {
		c, err := milvusclient.New(context.Background(), &milvusclient.ClientConfig{Address: addr})
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		for _, name := range []string{from, from + "_history", to, to + "_history"} {
			c.DropCollection(context.Background(), milvusclient.NewDropCollectionOption(name))
		}
	})
	cfg, err := config.Load(config.Getenv(env))
	if err != nil {
		t.Fatal(err)
	}
	log := sidecar.NewLogger(cfg.Log, io.Discard)
	e, err := sidecar.NewEmbedder(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	mc := sidecar.MilvusConfig(cfg, e, log)
	mc.Collection = from
	old, err := milvus.Open(ctx, mc)
	if err != nil {
		t.Fatal(err)
	}
	var ms []memory.Memory
	for _, text := range []string{"likes quokkas", "plays the violin"} {
		v, err := e.Embed(ctx, []string{text})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, memory.Memory{ID: memory.NewID(), Text: text, UserID: "u", Vector: v[0]})
	}
	err = old.Add(ctx, ms...)
	old.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"copied 2 memories", "copied 0 memories"} {
		var out, errOut bytes.Buffer
		if code := Main(ctx, []string{"milvus", "copy", from}, env, &out, &errOut); code != exitOK || !strings.Contains(out.String(), want) {
			t.Fatalf("memproxy milvus copy %s: exit %d, %q %q; want %q", from, code, out.String(), errOut.String(), want)
		}
	}
}
