package injector

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEncodingFor(t *testing.T) {
	for model, want := range map[string]string{
		"gpt-4o": O200kBase, "gpt-4o-mini-2024-07-18": O200kBase, "chatgpt-4o-latest": O200kBase,
		"gpt-4.1": O200kBase, "gpt-4.1-nano": O200kBase, "o1": O200kBase, "o3-mini": O200kBase,
		"o4-mini": O200kBase, "gpt-5": O200kBase, "GPT-5-mini": O200kBase, "openai/gpt-4o": O200kBase,
		"gpt-4": Cl100kBase, "gpt-4-turbo": Cl100kBase, "gpt-4-0613": Cl100kBase, "gpt-3.5-turbo": Cl100kBase,
		"gpt-35-turbo": Cl100kBase, "ft:gpt-3.5-turbo-0125:acme::x": Cl100kBase, "openai/gpt-4": Cl100kBase,
		// Unknown models count in o200k_base.
		"": O200kBase, "m": O200kBase, "llama3.1:8b": O200kBase, "claude-sonnet-4": O200kBase,
	} {
		if got := EncodingFor(model); got != want {
			t.Errorf("EncodingFor(%q) = %s, want %s", model, got, want)
		}
	}
}

// TestCountTokensMatchesTiktoken: counts that OpenAI's tiktoken gives
// (its documentation's example, and its README's).
func TestCountTokensMatchesTiktoken(t *testing.T) {
	for _, c := range []struct {
		model, text string
		want        int
	}{
		{"gpt-4", "tiktoken is great!", 6},
		{"gpt-4", "hello world", 2},
		{"gpt-4o", "hello world", 2},
		{"gpt-4o", "", 0},
	} {
		if got := CountTokens(c.model, c.text); got != c.want {
			t.Errorf("CountTokens(%q, %q) = %d, want %d", c.model, c.text, got, c.want)
		}
	}
	// The two encodings differ where o200k_base was made to: it spends
	// fewer tokens on CJK text.
	cjk := strings.Join(cjkMemories, "\n")
	if o, c := Count(O200kBase, cjk), Count(Cl100kBase, cjk); o >= c {
		t.Errorf("CJK text: o200k_base %d tokens, cl100k_base %d; want fewer in o200k_base", o, c)
	}
}

var (
	englishMemories = []string{
		"Goal: run a half marathon by June",
		"Completed 5K run in 28 minutes last Saturday",
		"Prefers morning workouts before work, around 6:30",
		"Twisted her left ankle in March; physio twice a week since",
		"Vegetarian, but eats fish on weekends",
		"Responds best to gentle encouragement, not drill-sergeant talk",
		"Inside joke: 'No pain, no protein shake!'",
		"Her sister Maya is training for the same race",
		"Works night shifts at the hospital on Tuesdays and Thursdays",
		"Wants to get under 2 hours 10 minutes for the half",
		"Dislikes treadmills; runs along the river instead",
		"Uses a Garmin watch and logs runs in Strava",
	}
	cjkMemories = []string{
		"目标：六月前跑完半程马拉松",
		"上周六用二十八分钟跑完了五公里",
		"喜欢早上六点半上班前锻炼",
		"三月份扭伤了左脚踝，之后每周做两次理疗",
		"她是素食者，但周末会吃鱼",
		"温柔的鼓励对她最有效，不喜欢严厉的语气",
		"目標は六月までにハーフマラソンを完走すること",
		"先週の土曜日に5キロを28分で走った",
		"朝のトレーニングが好きで、仕事の前に走る",
		"左足首をひねってから週二回理学療法に通っている",
		"トレッドミルは嫌いで、川沿いを走るのが好き",
		"妹のマヤも同じレースに向けて練習している",
		"목표는 6월까지 하프 마라톤 완주",
		"아침 운동을 좋아하고 강변을 달린다",
	}
	emojiMemories = []string{
		"Celebrates every PR with 🎉🎉🎉 and a 🍕",
		"Signs off with 💪🏽🔥 after each run",
		"Favourite emoji for rest days: 😴🛌",
		"Sends 🏃‍♀️‍➡️ when she starts a run and 🏁 when done",
		"Loves 🌊 swims and 🚴‍♀️ rides on Sundays",
		"Family: 👨‍👩‍👧‍👦, dog 🐕‍🦺 named Biscuit",
		"Mood tracker: 😀😐😞 three times a day",
		"Flag on her bio: 🇯🇵 and 🏳️‍🌈",
	}
)

// runesOver4 is the estimate Block used before it counted tokens: a
// quarter of the characters.
func runesOver4(s string) int { return (utf8.RuneCountInString(s) + 3) / 4 }

// repeat returns n memories drawn in turn from texts, each made distinct.
func repeat(texts []string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s (%d)", texts[i%len(texts)], i/len(texts)+1)
	}
	return out
}

// TestCorpusTokenBudget: a block under a budget of N tokens costs at most
// N real tokens of the model's encoding, in every script; the table shows
// what the old estimate (characters / 4) spent under the same budget.
func TestCorpusTokenBudget(t *testing.T) {
	t.Logf("%-8s %-12s %6s %14s %14s", "text", "encoding", "budget", "spent before", "spent after")
	for _, set := range []struct {
		name  string
		texts []string
	}{{"english", englishMemories}, {"cjk", cjkMemories}, {"emoji", emojiMemories}} {
		m := Memories{User: repeat(set.texts, 200), Relationship: repeat(set.texts[:3], 5)}
		for _, model := range []string{"gpt-4o", "gpt-4"} {
			enc := EncodingFor(model)
			for _, budget := range []int{100, 300, 1000} {
				before, _ := Block(m, Options{Budget: budget, Model: model, Count: runesOver4})
				after, res := Block(m, Options{Budget: budget, Model: model})
				spentBefore, spentAfter := Count(enc, before), Count(enc, after)
				t.Logf("%-8s %-12s %6d %14d %14d", set.name, enc, budget, spentBefore, spentAfter)
				if spentAfter > budget {
					t.Errorf("%s, %s, budget %d: the block costs %d tokens", set.name, enc, budget, spentAfter)
				}
				if res.Tokens < spentAfter || res.Tokens > budget {
					t.Errorf("%s, %s, budget %d: reported %d tokens, the block costs %d", set.name, enc, budget, res.Tokens, spentAfter)
				}
				// A budget is for spending: the block leaves out no more
				// than the next memory would have needed.
				if res.Dropped > 0 && budget-res.Tokens > 60 {
					t.Errorf("%s, %s, budget %d: %d tokens used, %d memories dropped", set.name, enc, budget, res.Tokens, res.Dropped)
				}
			}
		}
	}
}

// BenchmarkBlock is the cost of a typical block (ten memories, English
// and CJK): counted as characters / 4 (the old estimate), with the
// tokenizer, and with each text's count remembered (as the proxy does).
func BenchmarkBlock(b *testing.B) {
	m := Memories{
		Persona: englishMemories[:2], User: append(append([]string{}, englishMemories[2:6]...), cjkMemories[:2]...),
		Relationship: englishMemories[6:8],
	}
	noFlag := func(string) bool { return false }
	seen := map[string]int{}
	cached := func(s string) int {
		if n, ok := seen[s]; ok {
			return n
		}
		n := Count(O200kBase, s)
		seen[s] = n
		return n
	}
	for _, c := range []struct {
		name  string
		count func(string) int
	}{{"runes-over-4", runesOver4}, {"tokenizer", nil}, {"tokenizer-cached", cached}} {
		b.Run(c.name, func(b *testing.B) {
			opts := Options{Budget: 1000, Model: "gpt-4o", Flag: noFlag, Count: c.count}
			Block(m, opts) // load the encoding, fill the cache
			for b.Loop() {
				Block(m, opts)
			}
		})
	}
}
