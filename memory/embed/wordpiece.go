package embed

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// wordPiece splits text into the vocabulary's word pieces as BERT's
// uncased tokenizer does (the tokenizer all-MiniLM-L6-v2 was trained
// with): lower-cased, accents stripped, split at spaces and punctuation,
// Chinese characters one by one, then each word into the longest pieces
// the vocabulary has, later pieces prefixed with "##". It returns the ids
// of the pieces; a word that cannot be split is left out (BERT's [UNK]
// carries no meaning worth averaging).
func wordPiece(vocab map[string]int32, text string) []int32 {
	var ids []int32
	for _, w := range basicTokens(text) {
		ids = appendPieces(ids, vocab, w)
	}
	return ids
}

// maxWordChars is BERT's limit: a longer "word" is [UNK].
const maxWordChars = 100

func appendPieces(ids []int32, vocab map[string]int32, word string) []int32 {
	runes := []rune(word)
	if len(runes) > maxWordChars {
		return ids
	}
	start := len(ids)
	for i := 0; i < len(runes); {
		j := len(runes)
		found := int32(-1)
		for ; j > i; j-- {
			piece := string(runes[i:j])
			if i > 0 {
				piece = "##" + piece
			}
			if id, ok := vocab[piece]; ok {
				found = id
				break
			}
		}
		if found < 0 {
			return ids[:start]
		}
		ids = append(ids, found)
		i = j
	}
	return ids
}

// basicTokens normalises and splits text as BERT's BasicTokenizer does.
func basicTokens(text string) []string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(text)) {
		switch {
		case r == 0 || r == unicode.ReplacementChar || (unicode.IsControl(r) && !unicode.IsSpace(r)):
		case unicode.Is(unicode.Mn, r):
			// An accent, after NFD: "café" → "cafe".
		case isChinese(r) || isPunct(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return strings.Fields(b.String())
}

// isPunct is BERT's punctuation: every non-letter, non-digit printable
// ASCII character, and Unicode's punctuation classes.
func isPunct(r rune) bool {
	if (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) {
		return true
	}
	return unicode.IsPunct(r)
}

// isChinese reports whether r is in the CJK ideograph blocks BERT splits
// character by character.
func isChinese(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}
