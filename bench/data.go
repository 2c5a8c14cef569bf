package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/memproxy/memproxy/memory"
)

const (
	benchAgent = "fitcoach_bench"
	benchKey   = "bench-key"
)

// A topic is a kind of fact users state, with a question that needs it.
// Most questions share a word with their fact, as a lexical embedder
// needs; a few share none, which only a semantic model could answer.
type topic struct {
	fact     string // with %s for the value
	question string
	values   []string
	// semantic: the question shares no word with the fact.
	semantic bool
}

var topics = []topic{
	{"My dog is called %s.", "What is my dog called?", []string{"Biscuit", "Luna", "Max", "Pepper", "Otis", "Maple", "Ziggy", "Nala"}, false},
	{"I work as a %s.", "What do I do for work?", []string{"nurse", "teacher", "software engineer", "carpenter", "lawyer", "chef", "pilot", "pharmacist"}, false},
	{"I am allergic to %s.", "Which foods am I allergic to?", []string{"peanuts", "shellfish", "gluten", "eggs", "soy", "sesame", "kiwi", "almonds"}, false},
	{"My favourite sport is %s.", "Which sport is my favourite?", []string{"tennis", "football", "swimming", "climbing", "basketball", "rowing", "cycling", "golf"}, false},
	{"I live in %s.", "Which city do I live in?", []string{"Lisbon", "Denver", "Osaka", "Toronto", "Nairobi", "Leeds", "Valencia", "Perth"}, false},
	{"My goal is to run a %s this year.", "What race is my running goal?", []string{"half marathon", "marathon", "5K", "10K", "trail ultra", "relay"}, false},
	{"I usually train in the %s.", "When do I usually train?", []string{"early morning", "lunch break", "evening", "late night", "weekend mornings"}, false},
	{"After a workout I like to eat %s.", "What should I eat after a workout?", []string{"oatmeal", "a protein shake", "rice and beans", "greek yogurt", "a banana", "eggs on toast"}, false},
	{"I have a %s injury.", "Do I have an injury to watch?", []string{"knee", "shoulder", "ankle", "lower back", "hamstring", "wrist"}, false},
	{"My partner's name is %s.", "What is my partner's name?", []string{"Sam", "Alex", "Priya", "Jordan", "Mei", "Tom", "Ines", "Kofi"}, false},
	{"I play the %s.", "Which instrument do I play?", []string{"piano", "guitar", "violin", "drums", "cello", "trumpet"}, false},
	{"I drive a %s.", "What car do I drive?", []string{"hatchback", "pickup truck", "minivan", "electric sedan", "motorbike"}, false},
	{"My birthday is in %s.", "When is my birthday?", []string{"January", "March", "May", "July", "September", "November"}, false},
	{"I prefer %s workouts.", "What kind of workouts do I prefer?", []string{"short intense", "long slow", "strength", "yoga", "group", "outdoor"}, false},
	{"I sleep about %s hours a night.", "How many hours do I sleep?", []string{"five", "six", "seven", "eight", "nine"}, false},
	{"My daughter is %s years old.", "How old is my daughter?", []string{"two", "four", "seven", "ten", "thirteen", "sixteen"}, false},
	{"I speak %s.", "Which languages do I speak?", []string{"Portuguese", "Japanese", "Swahili", "French", "Hindi", "German"}, false},
	{"I have been vegetarian since %s.", "Do I eat meat?", []string{"2015", "2018", "college", "childhood", "last spring"}, true},
	{"My favourite band is %s.", "What music do I listen to?", []string{"Radiohead", "ABBA", "Metallica", "Fleetwood Mac", "Daft Punk"}, true},
	{"I cycle to the office on %s.", "How do I get to my job?", []string{"Mondays", "rainy days", "weekdays", "Fridays", "sunny days"}, true},
}

// persona is the bench agent's persona, written by an operator.
var persona = []string{
	"I'm FitCoach - supportive, motivational, celebrates small wins.",
	"I explain the why behind every training change.",
	"I never shame anyone for a missed workout.",
	"I keep advice practical and specific to the person's week.",
	"I recommend seeing a physiotherapist for pain that lasts.",
	"I prefer gradual progress over big jumps in volume.",
	"I ask about sleep and stress before adding intensity.",
	"I suggest simple meals rather than strict diets.",
	"I use metric units unless the user prefers miles.",
	"I end each plan with one small, achievable next step.",
}

// fact returns the text of a user's j-th memory: a topic's fact with a
// random value, and, past the first round of topics, when it was noted.
func fact(r *rand.Rand, j int) (string, int) {
	t := topics[j%len(topics)]
	text := fmt.Sprintf(t.fact, t.values[r.IntN(len(t.values))])
	if j >= len(topics) {
		text = fmt.Sprintf("%s (noted in week %d)", text, j/len(topics))
	}
	return text, j % len(topics)
}

// userName names a benchmark user.
func userName(i int) string { return fmt.Sprintf("user-%d", i) }

// memories makes n memories over users users, with vectors from vector:
// each user's facts, one in four of them a relationship memory with the
// bench agent, plus the agent's persona.
func memories(n, users int, seed uint64, vector func(text string) []float32) []memory.Memory {
	r := rand.New(rand.NewPCG(seed, 7))
	now := time.Now().UTC()
	out := make([]memory.Memory, 0, n+len(persona))
	for _, p := range persona {
		out = append(out, memory.Memory{ID: memory.NewID(), Text: p, Hash: memory.Hash(p), AgentID: benchAgent,
			CreatedAt: now, UpdatedAt: now, Vector: vector(p)})
	}
	for i := range n {
		u, j := i%users, i/users
		text, _ := fact(r, j)
		m := memory.Memory{ID: memory.NewID(), Text: text, Hash: memory.Hash(text), UserID: userName(u),
			CreatedAt: now, UpdatedAt: now, Vector: vector(text)}
		if j%4 == 3 {
			m.Metadata = map[string]any{memory.FieldAgentID: benchAgent}
		}
		out = append(out, m)
	}
	return out
}

// usersFor is how many users n memories are spread over: ten or more
// each, at most 1,000 users.
func usersFor(n int) int { return max(1, min(1000, n/10)) }

const systemPrompt = "You are FitCoach, a supportive fitness coach. Give practical, specific advice for the " +
	"person's week, explain the why behind changes, keep answers under 200 words, and end with one small next step. " +
	"Never give medical diagnoses; suggest a professional for pain that lasts more than a few days."

// chatBody is a Chat Completions request as an app sends it: a system
// prompt, an earlier exchange, and the new user message (about 1.3 KB).
func chatBody(user string, stream bool) []byte {
	req := map[string]any{
		"model": "gpt-4o-mini",
		"messages": []map[string]string{
			{"role": "system", "content": systemPrompt},
			{"role": "user", "content": "I did my long run on Sunday, 14 km, and my legs felt heavy for the last few kilometres."},
			{"role": "assistant", "content": "Heavy legs late in a long run usually mean the pace was a touch quick or fuel ran low. " +
				"Try starting 15 seconds per kilometre slower and take a gel or some sports drink after 60 minutes."},
			{"role": "user", "content": user},
		},
		"temperature": 0.7,
		"max_tokens":  300,
	}
	if stream {
		req["stream"] = true
		req["stream_options"] = map[string]any{"include_usage": true}
	}
	b, _ := json.Marshal(req)
	return b
}

// identity returns the headers of a request for user with the bench agent
// in mode.
func identity(user, mode string) http.Header {
	h := http.Header{}
	h.Set("X-Memory-User-Id", user)
	h.Set("X-Memory-Agent-Id", benchAgent)
	if mode != "" {
		h.Set("X-Memory-Mode", mode)
	}
	return h
}

// question returns a question a user asks, made unique by i when unique
// is set (an embedder's cache must not answer it).
func question(r *rand.Rand, i int, unique bool) string {
	q := topics[r.IntN(len(topics))].question
	if unique {
		q = fmt.Sprintf("%s (message %d)", q, i)
	}
	return q
}

// statement returns a unique statement a user makes: something raw
// learning keeps.
func statement(i int) string {
	t := topics[i%len(topics)]
	return fmt.Sprintf(t.fact[:len(t.fact)-1]+" and I logged workout number %d today.", t.values[i%len(t.values)], i)
}

// fillers are everyday statements that answer none of the questions.
var fillers = []string{
	"I watched a documentary about %s last night.",
	"We had %s for dinner on Friday.",
	"I bought new %s this weekend.",
	"The weather was %s during my walk.",
	"I am reading a book about %s.",
	"My neighbour lent me some %s.",
}

var fillerValues = []string{"octopuses", "volcanoes", "pasta", "curtains", "lovely", "gloomy", "chess", "gardening", "tomatoes", "history", "sneakers", "jazz"}
