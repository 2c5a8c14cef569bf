package learn

import (
	"strings"

	"github.com/memproxy/memproxy/memory/internal/words"
)

// categoryWords are the words that sort a raw fact into a category (one of
// policies.Categories), compared after the tokenizer's stemming. The llm
// mode has the model choose; this is the raw mode's rule of thumb.
var categoryWords = map[string][]string{
	"health": {"doctor", "allergy", "allergic", "diabetes", "diabetic", "injury", "injured", "knee", "pain", "medication",
		"medicine", "blood", "sleep", "asthma", "surgery", "therapy", "therapist", "anxiety", "depression", "pregnant", "hospital", "sick", "ill",
		// injuries and the body
		"ankle", "wrist", "elbow", "shoulder", "hip", "hamstring", "tendon", "tendonitis", "ligament", "acl", "shin", "splint", "fracture",
		"sprain", "sprained", "twisted", "broken", "hurt", "hurts", "ache", "aches", "sore", "concussion",
		"stitches", "spine", "fasciitis", "arthritis", "rehab",
		// care and conditions
		"physio", "physiotherapist", "physiotherapy", "dentist", "dental", "clinic", "gp", "surgeon", "diagnosed", "diagnosis", "symptom",
		"prescription", "prescribed", "insulin", "inhaler", "mri", "x-ray", "checkup", "migraine", "migraines", "headache", "flu",
		"fever", "infection", "cholesterol", "celiac", "coeliac", "intolerant", "eczema", "insomnia", "penicillin", "disease"},
	"sports": {"run", "ran", "runner", "marathon", "5k", "10k", "gym", "bench", "swim", "swam", "cycle", "cycling", "bike", "yoga",
		"workout", "train", "football", "soccer", "tennis", "basketball", "squat", "lift", "climb", "hike", "race", "sport", "rep", "set", "pr"},
	"food": {"eat", "ate", "cilantro", "vegetarian", "vegan", "pizza", "coffee", "tea", "cook", "recipe", "meal", "food", "dinner", "lunch",
		"breakfast", "gluten", "lactose", "spicy", "restaurant", "drink", "protein", "diet"},
	"family": {"wife", "husband", "son", "daughter", "mother", "father", "mom", "mum", "dad", "sister", "brother", "kid", "child",
		"children", "parent", "family", "grandma", "grandpa", "baby", "partner", "married"},
	"professional_details": {"work", "job", "office", "manager", "engineer", "nurse", "teacher", "company", "career", "colleague",
		"boss", "employer", "salary", "client", "project", "startup", "business", "profession", "developer", "doctorate"},
	"travel":     {"travel", "trip", "flight", "fly", "visit", "vacation", "holiday", "abroad", "passport", "hotel", "airport", "tour"},
	"music":      {"music", "guitar", "piano", "cello", "orchestra", "choir", "song", "band", "concert", "sing", "album", "jazz", "rock", "violin", "drum"},
	"technology": {"computer", "software", "code", "coding", "programming", "laptop", "app", "linux", "python", "golang", "ai", "phone", "server"},
	"hobbies": {"hobby", "paint", "painting", "read", "book", "garden", "gardening", "photography", "knit", "chess", "game",
		"collect", "fish", "fishing", "craft", "draw", "bee", "vinyl"},
	"entertainment":    {"movie", "film", "tv", "series", "netflix", "show", "anime", "podcast", "theatre", "theater"},
	"fashion":          {"clothes", "wear", "dress", "shoe", "style", "outfit", "jacket", "fashion"},
	"milestones":       {"birthday", "anniversary", "graduated", "graduation", "wedding", "promoted", "promotion", "retire", "record", "milestone"},
	"user_preferences": {"prefer", "like", "love", "hate", "favorite", "favourite", "dislike", "enjoy", "rather"},
	"personal_details": {"name", "live", "born", "grew", "age", "old", "from", "moved", "home", "address", "nationality", "city"},
}

// categoryOrder breaks ties: the more specific categories first.
var categoryOrder = []string{"health", "family", "sports", "food", "professional_details", "travel", "music",
	"technology", "hobbies", "entertainment", "fashion", "milestones", "personal_details", "user_preferences"}

// Classify sorts a fact into a category by its words; "misc" when none fits.
func Classify(text string) string {
	seen := map[string]bool{}
	for _, w := range words.Tokenize(text) {
		seen[w] = true
	}
	for _, w := range strings.Fields(strings.ToLower(text)) { // unstemmed too: "5k", "pr"
		seen[strings.Trim(w, ".,!?;:'\"()")] = true
	}
	best, bestN := "misc", 0
	for _, cat := range categoryOrder {
		n := 0
		for _, w := range categoryWords[cat] {
			if seen[w] || seen[words.Stem(w)] {
				n++
			}
		}
		if n > bestN {
			best, bestN = cat, n
		}
	}
	return best
}
