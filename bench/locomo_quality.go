package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/memproxy/memproxy/bench/internal/storeload"
	"github.com/memproxy/memproxy/internal/minilmtest"
	"github.com/memproxy/memproxy/memory"
	"github.com/memproxy/memproxy/memory/embed"
	"github.com/memproxy/memproxy/memory/embedded"
)

// A locomoRow is one retrieval method's rankings over the dev set.
type locomoRow struct {
	name   string
	ranked [][][]string // per conversation, per question
	lat    []time.Duration
	note   string // why there are no figures
	goal   string // the key of its goal in the summary, if any
}

// locomo measures recall on the LoCoMo dev set: memproxy as the memory
// API stores and searches, with its default embedder and with MiniLM,
// on each store, beside baselines computed here in the same run.
func (b *bench) locomo() error {
	ctx := context.Background()
	sec := &section{title: "6. Retrieval quality on LoCoMo"}
	convs, err := loadLocomoDir(b.o.locomoDir, b.o.locomoCaptions)
	if err != nil {
		return err
	}
	// The other caption choice, for the baselines only: what captions do.
	other, err := loadLocomoDir(b.o.locomoDir, !b.o.locomoCaptions)
	if err != nil {
		return err
	}
	nq, nt := 0, 0
	for _, c := range convs {
		nq += len(c.questions)
		nt += len(c.turns)
	}

	var stopMiniLM func()
	defer func() {
		if stopMiniLM != nil {
			stopMiniLM()
		}
	}()
	minilm, err := openCachedEmbedder(filepath.Join(b.o.locomoCache, "minilm-locomo.gob"), "openai:"+minilmtest.Model, minilmtest.Dimensions,
		func() (memory.Embedder, error) {
			if b.o.minilmPython == "" {
				return nil, fmt.Errorf("no MiniLM fixture: give -minilm-python (scripts/test.sh installs it into .venv-minilm)")
			}
			log.Printf("locomo: starting the MiniLM fixture to embed what the cache lacks")
			e, stop, err := startMiniLM(ctx, b.o.minilmPython)
			stopMiniLM = stop
			return e, err
		})
	if err != nil {
		return err
	}
	defer func() {
		if err := minilm.save(); err != nil {
			log.Print(err)
		}
	}()

	baselines := func(cs []locomoConv) (bm, dense, fused locomoRow, err error) {
		bm.name, dense.name, fused.name = "BM25 (Okapi, k1 1.2, b 0.75, Snowball stems, stop words)", "exact dense, MiniLM", "RRF(BM25, MiniLM), k = 60"
		for _, c := range cs {
			br := bm25Rank(c)
			dr, err := denseRank(ctx, minilm, c)
			if err != nil {
				return bm, dense, fused, fmt.Errorf("locomo: MiniLM: %w", err)
			}
			fr := make([][]string, len(br))
			for i := range br {
				fr[i] = rrf(60, br[i], dr[i])
			}
			bm.ranked, dense.ranked, fused.ranked = append(bm.ranked, br), append(dense.ranked, dr), append(fused.ranked, fr)
		}
		return bm, dense, fused, nil
	}
	bm, dense, fused, err := baselines(convs)
	if err != nil {
		return err
	}
	obm, odense, ofused, err := baselines(other)
	if err != nil {
		return err
	}
	if err := minilm.save(); err != nil {
		log.Print(err)
	}

	rows := []locomoRow{bm, dense, fused}
	static, hash := embed.NewStatic(), embed.NewHash(0)
	embedders := []struct {
		key, name string
		emb       memory.Embedder
	}{
		{"static", "default static", static},
		{"hash", "hash", hash},
		{"minilm", "MiniLM (openai)", minilm},
	}
	for _, store := range []string{"embedded", "Milvus Lite"} {
		for _, e := range embedders {
			emb := e.emb
			name := fmt.Sprintf("memproxy, %s embedder, %s store", e.name, store)
			row := locomoRow{name: name, goal: "locomo-" + e.key + "-" + map[bool]string{true: "embedded", false: "lite"}[store == "embedded"]}
			switch store {
			case "embedded":
				dir := filepath.Join(b.dir, fmt.Sprintf("locomo-%d", b.seq.Add(1)))
				s, err := embedded.Open(dir, emb.Dimensions(), emb.Name())
				if err != nil {
					return err
				}
				row.ranked, row.lat, err = memproxyRank(ctx, s, emb, convs, nil)
				s.Close()
				os.RemoveAll(dir)
				if err != nil {
					return err
				}
			default:
				if b.o.milvusLite == "" {
					row.note = "skipped: no Milvus Lite (-milvus-lite or MEMPROXY_TEST_MILVUS_LITE)"
					break
				}
				coll := fmt.Sprintf("memproxy_bench_locomo_%d", time.Now().UnixNano())
				b.atEnd(func() {
					if err := storeload.DropMilvus(b.o.milvusLite, coll); err != nil {
						log.Print(err)
					}
				})
				s, err := storeload.OpenMilvus(ctx, b.o.milvusLite, coll, emb.Dimensions(), emb.Name())
				if err != nil {
					return fmt.Errorf("locomo: Milvus Lite: %w", err)
				}
				visible := func(user string, n int) error {
					wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
					defer cancel()
					return storeload.WaitVisible(wctx, s, emb.Dimensions(), user, n)
				}
				row.ranked, row.lat, err = memproxyRank(ctx, s, emb, convs, visible)
				s.Close()
				if err != nil {
					return err
				}
			}
			rows = append(rows, row)
			log.Printf("locomo: %s done", name)
		}
	}

	sec.printf("The LoCoMo dev set (%s: %d conversations, %d turns, %d questions of categories 1-4 with evidence). "+
		"Every turn is stored verbatim as one memory (\"Speaker: text\"%s) through the memory API's path "+
		"(`infer: false`, one request per session) under user_id = the conversation; each question is searched in that scope, top %d, "+
		"with its vector and its text (`SearchRequest.Text`, for lexical search where the store has it). "+
		"A question is a hit at k when all its evidence turns are in the top k. Search times are the store's alone, the query's embedding left out "+
		"(MiniLM vectors come from the fixture testdata/minilm, cached on disk in %s). "+
		"The baselines are computed here, independently of the memory packages.\n\n",
		b.o.locomoDir, len(convs), nt, nq, map[bool]string{true: ", with the photo's caption for turns that share one", false: ""}[b.o.locomoCaptions],
		locomoK, b.o.locomoCache)
	tb := newTable("retrieval", "recall@1", "recall@5", "recall@10", "search p50 ms", "search p99 ms")
	all := func(r locomoRow, k int) float64 {
		hits, n := 0.0, 0
		for ci, c := range convs {
			hits += recallAt(c.questions, r.ranked[ci], k) * float64(len(c.questions))
			n += len(c.questions)
		}
		return hits / float64(n)
	}
	for _, r := range rows {
		if r.note != "" {
			tb.add(r.name, r.note, "", "", "", "")
			continue
		}
		p50, p99 := "–", "–"
		if len(r.lat) > 0 {
			d := summarize(r.lat)
			p50, p99 = fmt.Sprintf("%.3f", ms(d.p50)), fmt.Sprintf("%.3f", ms(d.p99))
		}
		tb.add(r.name, fmt.Sprintf("%.3f", all(r, 1)), fmt.Sprintf("%.3f", all(r, 5)), fmt.Sprintf("%.3f", all(r, 10)), p50, p99)
	}
	sec.printf("%s", tb)
	otherAll := func(r locomoRow) float64 {
		hits, n := 0.0, 0
		for ci, c := range other {
			hits += recallAt(c.questions, r.ranked[ci], 10) * float64(len(c.questions))
			n += len(c.questions)
		}
		return hits / float64(n)
	}
	sec.printf("\nPhoto captions: %s, the baselines' recall@10 would be BM25 %.3f, MiniLM %.3f, RRF %.3f (above: %.3f, %.3f, %.3f).\n",
		map[bool]string{true: "without them", false: "with them appended to the turns that share a photo"}[b.o.locomoCaptions],
		otherAll(obm), otherAll(odense), otherAll(ofused), all(bm, 10), all(dense, 10), all(fused, 10))
	for _, r := range rows[3:] {
		if r.note != "" {
			continue
		}
		target, against := all(bm, 10), "BM25"
		if strings.Contains(r.name, "MiniLM") {
			target, against = all(fused, 10)-0.01, "RRF(BM25, MiniLM) - 0.01"
		}
		b.setGoal(r.goal, goal{what: "LoCoMo recall@10, " + r.name, target: "at least " + against + fmt.Sprintf(" (%.3f)", target),
			measured: fmt.Sprintf("%.3f", all(r, 10)), met: all(r, 10) >= target-1e-9})
	}
	b.emit(sec)
	return nil
}
