// Package poisoncorpus is test data: messages that try to plant
// instructions in memory (several languages and obfuscations), and
// ordinary messages with facts worth learning, many in the vocabulary of
// the first. The poisoning filter and the learning pipeline are measured
// on them.
package poisoncorpus

import (
	_ "embed"
	"strconv"
	"strings"
)

var (
	//go:embed attacks.txt
	attacks string
	//go:embed ordinary.txt
	ordinary string
)

// Attacks are the injection attempts, one message each.
func Attacks() []string { return parse(attacks) }

// Ordinary are the ordinary messages, one each.
func Ordinary() []string { return parse(ordinary) }

// parse reads one message a line, skipping blank lines and # comments,
// with \n, \t, \uXXXX and \UXXXXXXXX escapes unescaped.
func parse(text string) []string {
	var out []string
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, unescape(line))
	}
	return out
}

func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case 'n':
			b.WriteByte('\n')
			i++
		case 't':
			b.WriteByte('\t')
			i++
		case 'u', 'U':
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n <= len(s) {
				if r, err := strconv.ParseUint(s[i+2:i+2+n], 16, 32); err == nil {
					b.WriteRune(rune(r))
					i += 1 + n
					continue
				}
			}
			b.WriteByte(s[i])
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
