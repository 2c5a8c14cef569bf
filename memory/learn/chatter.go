package learn

import (
	"regexp"
	"slices"
	"strings"
)

// This file recognises what people say to an assistant that tells nothing
// lasting about them, beyond the commands of hygiene.go: questions written
// without a question mark, requests phrased as wishes ("I need a recipe
// for tonight"), and the small talk of a conversation: greetings,
// farewells, acknowledgements and reactions to what the other side said
// ("Wow, that's cool!", "Sounds good to me", "Congrats on the new job!").

// chatWords splits a sentence into lower-case words, apostrophes kept
// ("what's", "i'm"), typographic apostrophes folded.
func chatWords(s string) []string {
	s = strings.ReplaceAll(strings.ToLower(s), "’", "'")
	ws := strings.FieldsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '\'' || r > 0x7f)
	})
	for i, w := range ws {
		ws[i] = strings.Trim(w, "'")
	}
	return slices.DeleteFunc(ws, func(w string) bool { return w == "" })
}

// ownSubject reports whether words make their writer the subject of
// something: "I", "my", "we", "our". "Me" and "us" alone do not: "Sounds
// good to me" and "Thanks for helping us" say nothing of the writer.
func ownSubject(words []string) bool {
	for _, w := range words {
		switch w {
		case "i", "i'm", "im", "i've", "ive", "i'll", "i'd", "my", "mine", "myself",
			"we", "we're", "we've", "we'll", "we'd", "our", "ours":
			return true
		}
	}
	return false
}

var (
	// questionWords open a question when the next word is an auxiliary or
	// asks for an amount: "How do I ...", "What time is it", "Where can
	// I ...". "When I run, my knee hurts" stays a statement.
	questionWords = set("what what's whats how how's hows where where's when when's why which who who's whom whose")
	// auxiliaries open a yes/no question when a pronoun follows: "Can you
	// ...", "Should I ...", "Is there ...". "Did 5 sets today" and "Has a
	// dog named Rex" do not.
	auxiliaries = set("is are am was were do does did can could should would will shall may might must has have had isn't aren't don't doesn't didn't can't couldn't shouldn't won't wouldn't")
	subjects    = set("i you we they he she it there anyone someone anybody somebody")
	askFor      = set("about much many long often far kind sort type time if else")
)

// question reports whether a sentence asks something, with or without a
// question mark.
func question(words []string) bool {
	if len(words) == 0 {
		return false
	}
	first := words[0]
	if strings.HasPrefix(strings.Join(words, " "), "i wonder") || strings.HasPrefix(strings.Join(words, " "), "i was wondering") {
		return true
	}
	if len(words) < 2 {
		return false
	}
	second := words[1]
	switch {
	case first == "what's" || first == "whats" || first == "how's" || first == "hows":
		return true
	case questionWords[first]:
		return auxiliaries[second] || askFor[second]
	case auxiliaries[first]:
		return subjects[second]
	case first == "any":
		return askedFor[second]
	}
	return false
}

// askedFor are the things a user asks an assistant for: "I need a recipe
// for tonight", "Any tips for ...", "I'd like some ideas for ...".
var askedFor = set(`plan plans recipe recipes list idea ideas suggestion suggestions tip tips advice summary example examples
	workout workouts routine menu email letter poem story joke explanation answer help hand translation quiz review
	breakdown template outline recommendation recommendations thoughts draft script word words version`)

// request reports whether a sentence asks the assistant for something.
func request(words []string) bool {
	s := strings.Join(words, " ")
	if rest, ok := strings.CutPrefix(s, "i'd "); ok {
		s = "i would " + rest
	}
	for _, p := range []string{"i need you ", "i want you ", "i would like you ", "i would love you ", "i need your ", "i want your ", "i would love your "} {
		if strings.HasPrefix(s+" ", p) {
			return true
		}
	}
	for _, p := range []string{"i need ", "i want ", "i would like ", "i would love ", "i could use "} {
		rest, ok := strings.CutPrefix(s, p)
		if !ok {
			continue
		}
		// The thing wished for is among the next few words: "a recipe",
		// "some ideas", "a quick workout".
		for i, w := range strings.Fields(rest) {
			if i == 4 || w == "to" || w == "for" {
				break
			}
			if askedFor[w] {
				return true
			}
		}
	}
	return false
}

// reactionWords open small talk when the sentence says nothing of its
// writer: "Thanks, coach!", "Wow, that's cool!", "Sounds fun", "That must
// have been hard". A sentence that does ("Yes, I have two kids", "Thanks!
// I'm moving to Berlin") is kept.
var reactionWords = set(`thanks thank thx ty cheers ok okay k kk cool great nice awesome perfect sure yes yeah yep yup ya
	no nope nah lol lmao haha hahaha hehe wow oh ooh ah aw aww omg yay hmm hm hmmm well right true exactly totally
	agreed absolutely definitely alright interesting fair noted sounds makes congrats congratulations glad sorry
	bye goodbye morning evening hi hello hey hiya howdy yo welcome that that's thats this so what how amazing
	lovely brilliant excellent fantastic incredible impressive wonderful sweet good bravo whoa`)

// smallTalkPhrases open small talk whatever follows: greetings, farewells,
// acknowledgements.
var smallTalkPhrases = []string{
	"long time no see", "nice to meet you", "nice to see you", "good to see you", "great to see you",
	"see you", "see ya", "talk to you", "talk soon", "take care", "catch you later", "until next time",
	"have a good", "have a nice", "have a great", "have a lovely", "got it", "will do", "no worries",
	"no problem", "of course", "all good", "love it", "love that", "love this", "one more time", "once more",
	"you've got this", "you got this",
}

// smallTalk reports whether a sentence is a greeting, a farewell, an
// acknowledgement or a reaction.
func smallTalk(words []string) bool {
	if len(words) == 0 {
		return true
	}
	s := strings.Join(words, " ") + " "
	for _, p := range smallTalkPhrases {
		if strings.HasPrefix(s, p+" ") {
			return true
		}
	}
	return reactionWords[words[0]] && !ownSubject(words)
}

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// mayTell reports whether a user message may hold a fact about its writer,
// for a model to find: it has a statement (RawFact), or it speaks of its
// writer ("What should I eat, given my peanut allergy?"). Greetings,
// thanks and questions or requests about nothing of the user's never reach
// the model, which could otherwise learn "User asked about VO2 max".
func mayTell(msg string) bool {
	return RawFact(msg, 1) != "" || ownSubject(chatWords(quoted.ReplaceAllString(msg, "")))
}

// askedFact matches a fact a model wrote about the conversation rather
// than the user: "User asked about intervals", "Wants to know how to fix a
// flat", "The user greeted the assistant".
var askedFact = regexp.MustCompile(`(?i)^(?:the\s+)?(?:user\s+|they\s+|he\s+|she\s+)?(?:asked|asks|is asking|was asking|wants to know|wanted to know|would like to know|wonders|wondered|requested|requests|is requesting|greeted|greets|thanked|thanks|said (?:hi|hello|thanks|thank you|goodbye))\b`)

// notAsked drops the facts that only say what the user asked for, and
// facts that are themselves questions or requests.
func notAsked(facts []Fact) []Fact {
	out := facts[:0]
	for _, f := range facts {
		text := strings.TrimSpace(f.Text)
		if askedFact.MatchString(text) || strings.HasSuffix(text, "?") {
			continue
		}
		// "User wants a 10K training plan" is "I want a 10K training plan".
		ws := chatWords(text)
		if len(ws) > 0 && ws[0] == "user" {
			ws = ws[1:]
		}
		if len(ws) > 0 && (ws[0] == "wants" || ws[0] == "needs" || ws[0] == "would") {
			ws[0] = strings.TrimSuffix(ws[0], "s")
			ws = append([]string{"i"}, ws...)
		}
		if request(ws) {
			continue
		}
		out = append(out, f)
	}
	return out
}
