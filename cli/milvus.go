package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/memory/milvus"
	"github.com/memproxy/memproxy/sidecar"
)

const milvusUsage = `Usage:
  memproxy milvus copy FROM   copy every memory, with its vector and history, from the
                              Milvus collection FROM into MEMPROXY_MILVUS_COLLECTION

The copy is how a collection created before hybrid search (no BM25 field)
moves to one with it: stop the sidecars, set MEMPROXY_MILVUS_COLLECTION to a
new name, run the copy with the old name as FROM, start the sidecars. FROM is
never changed; memories the destination has already are skipped, so an
interrupted copy can be run again. The embedder must be the one FROM was
written with.`

// milvusCommand runs `memproxy milvus ...`.
func milvusCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprintln(stdout, milvusUsage)
		return exitOK
	}
	if len(args) != 2 || args[0] != "copy" {
		fmt.Fprintf(stderr, "memproxy: milvus takes: copy FROM\n\n%s\n", milvusUsage)
		return exitUsage
	}
	from := args[1]
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "memproxy:", err)
		return exitFailure
	}
	if from == cfg.Milvus.Collection {
		fmt.Fprintf(stderr, "memproxy: milvus copy: %s is both the source and MEMPROXY_MILVUS_COLLECTION; set MEMPROXY_MILVUS_COLLECTION to the new collection\n", from)
		return exitUsage
	}
	if err := copyCollection(ctx, cfg, from, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "memproxy: milvus copy:", err)
		return exitFailure
	}
	return exitOK
}

func copyCollection(ctx context.Context, cfg config.Config, from string, stdout, stderr io.Writer) error {
	log := sidecar.NewLogger(cfg.Log, stderr)
	e, err := sidecar.NewEmbedder(ctx, cfg, log)
	if err != nil {
		return err
	}
	open := func(coll string) (*milvus.Store, error) {
		mc := sidecar.MilvusConfig(cfg, e, log)
		mc.Collection = coll
		s, err := milvus.Open(ctx, mc)
		if err != nil {
			return nil, fmt.Errorf("collection %s: %w", coll, err)
		}
		if err := s.Ready(ctx); err != nil {
			s.Close()
			return nil, fmt.Errorf("collection %s: %w", coll, err)
		}
		return s, nil
	}
	src, err := open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := open(cfg.Milvus.Collection)
	if err != nil {
		return err
	}
	defer dst.Close()
	n, err := src.CopyTo(ctx, dst)
	if err != nil {
		return fmt.Errorf("after %d memories: %w", n, err)
	}
	fmt.Fprintf(stdout, "copied %d memories from %s to %s\n", n, from, cfg.Milvus.Collection)
	if why := dst.FullText(); why != nil {
		fmt.Fprintf(stdout, "note: %s still ranks by vector only: %v\n", cfg.Milvus.Collection, why)
	}
	return nil
}
