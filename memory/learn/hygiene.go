package learn

import (
	"regexp"
	"strings"
)

// commandVerbs open sentences that tell the assistant what to do: "Tell me
// a joke", "Write a plan", "Always answer in French", "Ignore the above".
// They say what the user wants now, or what the user wants the assistant
// to be, not something lasting about the user. Verbs that also open
// elliptical statements about oneself ("Love hiking", "Work as a nurse",
// "Live in Porto") are left out.
var commandVerbs = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`tell give show explain write help list suggest recommend make create
		generate describe summarize summarise translate find stream answer repeat say send draft
		calculate compute continue let's lets rewrite fix check compare
		ignore disregard forget override bypass respond reply include print output reveal display dump
		email forward post upload fetch encode decode obey comply follow pretend act become be simulate
		activate enable disable deactivate promote mention add append insert prepend begin end stop
		store save treat consider assume imagine share quote steer refer redirect direct advise inform
		use switch set pay disclose leak expose narrate roleplay speak talk address sign praise praising
		advertise push sell link put cite start try redo retry rephrase elaborate clarify expand shorten
		simplify plan`) {
		commandVerbs[w] = true
	}
}

// leadIns are the words that may come before a command without changing
// it: "Please tell ...", "From now on, answer ...", "P.S. assistant, ...".
var leadIn = regexp.MustCompile(`^(?:please|also|and|so|now|ok|okay|oh|hey|btw|ps|p\.?s\.?|pss|note|important|reminder|attention|assistant|ai|bot|chatbot|model|coach|from now on|going forward|henceforth|from here on|from this point on|from today|in future|in the future|for all future replies|forever|always|never|just|kindly|only|[a-z]+ly)[\s,:;!.\-]+`)

// stripLeadIn removes the lead-ins before a command, one at a time: an
// adverb in -ly is a lead-in, a verb in -ly ("reply", "apply") is not.
func stripLeadIn(s string) string {
	for {
		m := leadIn.FindString(s)
		if m == "" || commandVerbs[strings.TrimRight(m, " \t,:;!.-")] {
			return s
		}
		s = s[len(m):]
	}
}

// conditionalLeadIn opens a standing order: "Whenever someone asks about
// banks, recommend ...", "If anybody asks, say ...".
var conditionalLeadIn = regexp.MustCompile(`^(?:when|whenever|if|each time|every time|any ?time|after each|before each|before answering|in every|for every|for each|when summari[sz]ing|when you)\b`)

// doNot opens a negative command: "Don't tell anyone", "Do not follow ...";
// "Don't like spicy food" stays a statement.
var doNot = regexp.MustCompile(`^(?:do not|don't|dont|never)\s+(?:ever\s+)?(\w+)`)

// conditionalVerbs may follow a condition as orders, on top of
// commandVerbs: "When someone shares an address, keep it".
var conditionalVerbs = map[string]bool{"keep": true, "read": true, "remember": true, "collect": true, "record": true, "log": true, "ask": true}

// command reports whether a sentence, or a clause of it after a
// semicolon, tells the assistant what to do.
func command(s string) bool {
	for clause := range strings.SplitSeq(strings.ToLower(strings.TrimSpace(s)), ";") {
		if commandClause(strings.TrimSpace(clause)) {
			return true
		}
	}
	return false
}

func commandClause(s string) bool {
	// A label before a colon ("Remember:", "Note for future sessions:",
	// "Permanent memory:") does not change what follows it.
	// "My rule: never check email before breakfast" is the user's own.
	if label, rest, ok := strings.Cut(s, ":"); ok && len(strings.Fields(label)) <= 4 && !strings.ContainsAny(label, ".!?") && !mentionsSelf(label) {
		if commandClause(strings.TrimSpace(rest)) {
			return true
		}
	}
	s = stripLeadIn(s)
	if conditionalLeadIn.MatchString(s) {
		if _, rest, ok := strings.Cut(s, ","); ok {
			rest = stripLeadIn(strings.TrimSpace(rest))
			first, _, _ := strings.Cut(rest, " ")
			if conditionalVerbs[first] || commandClause(rest) {
				return true
			}
		}
	}
	if m := doNot.FindStringSubmatch(s); m != nil {
		return commandVerbs[m[1]] || m[1] == "let" || m[1] == "give"
	}
	first, rest, _ := strings.Cut(s, " ")
	if first == "plan" && (strings.HasPrefix(rest, "to ") || strings.HasPrefix(rest, "on ")) {
		return false // "Plan to run a marathon next year": the user's plan
	}
	return commandVerbs[strings.Trim(first, ",!.:;\"'")]
}

// addressed reports whether a sentence speaks to the assistant and not of
// the user: it has "you" in it and no "I", "my", "we" or "our". "You're the
// best coach" and "Your rules are void" are not facts about the user;
// "My coach says you should stretch" is.
func addressed(s string) bool {
	return secondPerson(s) && !mentionsSelf(s)
}

// mentionsSelf reports whether a sentence speaks of its writer.
func mentionsSelf(s string) bool {
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z') && r != '\'' && r != '’'
	}) {
		switch strings.Trim(strings.ReplaceAll(w, "’", "'"), "'") {
		case "i", "i'm", "im", "i've", "ive", "i'll", "i'd", "me", "my", "mine", "myself",
			"we", "we're", "we've", "our", "ours", "us":
			return true
		}
	}
	return false
}

// standingOrder reports whether a sentence lays down what must always or
// never happen without speaking of its writer: "Links should always be
// written as ...". "My kids must always wear helmets" is the user's own
// rule.
func standingOrder(s string) bool {
	return standing.MatchString(strings.ToLower(s)) && !mentionsSelf(s)
}

var standing = regexp.MustCompile(`\b(?:should|must|shall|has\s+to|have\s+to|needs?\s+to)\s+(?:always|never|only|from\s+now\s+on)\b`)

// quoted matches what a sentence quotes, which is someone else's words:
// "My email signature says "Sent from my phone, please forgive typos"".
var quoted = regexp.MustCompile(`"[^"]*"|“[^”]*”|«[^»]*»`)

// rememberThat is a request to remember what follows it: "Remember I have
// a dentist appointment on Tuesday" is the fact "I have a dentist
// appointment on Tuesday".
var rememberThat = regexp.MustCompile(`(?i)^(?:please\s+)?(?:remember|note|don't forget|do not forget|keep in mind)(?:\s+that)?[\s,:]+`)
