package policies

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Built-in kinds of personal data a Redactor replaces.
const (
	RedactEmail = "email"
	RedactPhone = "phone"
	RedactCard  = "card"   // payment card numbers (Luhn-checked)
	RedactGovID = "gov_id" // SSN, UK NINO, Canadian SIN, passport and licence numbers
	RedactIBAN  = "iban"   // bank account numbers (mod-97-checked)
)

// RedactTypes lists the built-in kinds, in the order they are applied.
var RedactTypes = []string{RedactEmail, RedactIBAN, RedactCard, RedactGovID, RedactPhone}

// A CustomPattern redacts matches of Pattern as [NAME].
type CustomPattern struct {
	Name    string
	Pattern string
}

// RedactConfig chooses what a Redactor replaces.
type RedactConfig struct {
	Types  []string
	Custom []CustomPattern
}

// A Redactor replaces personal data in text with typed placeholders such
// as [EMAIL] or [PHONE], before the text is stored or sent to a model.
type Redactor struct {
	rules []redactRule
	cfg   RedactConfig
}

type redactRule struct {
	placeholder string
	re          *regexp.Regexp
	// group, when set, is the submatch replaced: the rest of the match
	// is context ("passport number ") that stays.
	group int
	// valid, when set, confirms a match text[start:end] (a checksum, a
	// numbering plan, the words around it), so that ordinary numbers are
	// left alone.
	valid func(text string, start, end int) bool
}

// checked adapts a check of the matched text alone.
func checked(f func(match string) bool) func(string, int, int) bool {
	return func(text string, start, end int) bool { return f(text[start:end]) }
}

// A Pattern is a compiled regular expression from a policy.
type Pattern struct {
	Source string
	re     *regexp.Regexp
}

// CompilePattern compiles a policy's regular expression.
func CompilePattern(src string) (*Pattern, error) {
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", src, err)
	}
	return &Pattern{Source: src, re: re}, nil
}

// MatchString reports whether s contains a match.
func (p *Pattern) MatchString(s string) bool { return p.re.MatchString(s) }

// obfuscated "at" and "dot", as people write them to dodge scrapers:
// "(at)", "[at]", " at ".
const (
	atWord  = `(?:\s*\(at\)\s*|\s*\[at\]\s*|\s+at\s+)`
	dotWord = `(?:\s*\(dot\)\s*|\s*\[dot\]\s*|\s+dot\s+)`
)

// intlRest is an international number after its + or 00.
const intlRest = `\d{1,3}[\s.\-]?(?:\(\d{1,4}\)[\s.\-]?)?\d{1,4}(?:[\s.\-]?\d{2,5}){1,5}`

var builtin = map[string][]redactRule{
	RedactEmail: {
		// Letters of any script: internationalised addresses are addresses.
		{re: regexp.MustCompile(`(?i)[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,}`)},
		// "jane (at) example (dot) com", "jane dot doe at example dot com"
		{re: regexp.MustCompile(`(?i)\b[a-z0-9_%+\-]+(?:(?:\.|` + dotWord + `)[a-z0-9_%+\-]+)*` + atWord +
			`[a-z0-9\-]+(?:` + dotWord + `[a-z0-9\-]+)*` + dotWord + `[a-z]{2,}\b`)},
	},
	RedactIBAN: {
		{re: regexp.MustCompile(`(?i)\b[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]{4}){2,7}(?:[ \-]?[A-Z0-9]{1,4})?\b`), valid: checked(ibanValid)},
	},
	RedactCard: {
		// As card numbers are written: in one run, in groups of four, or
		// 4-6-5 (American Express); the issuer's digit first (2-6) and a
		// valid Luhn checksum.
		{re: regexp.MustCompile(`\b[2-6](?:\d{12,18}|\d{3}(?:[ \-._]\d{4}){2}[ \-._]\d{1,7}|\d{3}[ \-._]\d{6}[ \-._]\d{4,5})\b`), valid: checked(luhnValid)},
	},
	RedactGovID: {
		// US SSN: 123-45-6789, 123 45 6789, with the structure the SSA
		// issues (no area 000, 666 or 9xx, no group 00, no serial 0000).
		{re: regexp.MustCompile(`\b\d{3}[- ]\d{2}[- ]\d{4}\b`), valid: ssnValid},
		// UK National Insurance number: QQ 12 34 56 C, in capitals as it
		// is printed (in lower case it reads as a hex id).
		{re: regexp.MustCompile(`\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b`)},
		// Canadian SIN: "SIN 046-454-286" (named, and Luhn-checked).
		{re: regexp.MustCompile(`(?i)\b(?:sin|social insurance(?: number)?)(?:\s+(?:number|no\.?|#))?(?:\s*[:#]\s*|\s+(?:is\s+)?)(\d{3}[- ]?\d{3}[- ]?\d{3})\b`),
			group: 1, valid: checked(luhnValid)},
		// A number named as an id: "passport number X1234567", "SSN
		// 123456789", "DL: D1234567". The name stands apart from the
		// number: "dl3f9a2c" is a hash, not a licence.
		{re: regexp.MustCompile(`(?i)\b(?:passport|driver'?s? licen[cs]e|licen[cs]e|dl|national id|national insurance|tax id|ssn|social security|sin|id card)(?:\s+(?:number|no\.?|#))?(?:\s*[:#]\s*|\s+(?:is\s+)?)([A-Z0-9][A-Z0-9\-]{4,}\d[A-Z0-9]*)`),
			group: 1},
	},
	RedactPhone: {
		// International (the first rule, applied before card numbers):
		// +1 (555) 123-4567, +44 20 7946 0958, +4915112345678.
		{re: regexp.MustCompile(`\+` + intlRest), valid: phoneIntlValid},
		// The same dialled with 00 instead of +: 0044 20 7946 0958. Applied
		// after card and IBAN numbers, which may hold a run of zeros.
		{re: regexp.MustCompile(`\b00` + intlRest), valid: phone00Valid},
		// North American with the trunk prefix: 1-800-555-0199.
		{re: regexp.MustCompile(`\b1[\s.\-]\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}\b`), valid: phoneTrunkedNANPValid},
		// National with separators: (555) 123-4567, 555-123-4567, 555.123.4567, 06 12 34 56 78, 020 7946 0958.
		{re: regexp.MustCompile(`(?:\(\d{2,4}\)[\s.\-]?|\b\d{2,5}[\s.\-])\d{2,8}(?:[\s.\-]\d{2,4}){0,3}\b`), valid: phoneNationalValid},
		// Ten digits in a row: 5551234567.
		{re: regexp.MustCompile(`\b\d{10}\b`), valid: phoneNationalValid},
		// Local seven-digit numbers: 555-0199, 867.5309.
		{re: regexp.MustCompile(`\b[2-9]\d{2}[.\-]\d{4}\b`), valid: phoneLocalValid},
	},
}

func placeholderFor(kind string) string { return "[" + strings.ToUpper(kind) + "]" }

// NewRedactor compiles cfg.
func NewRedactor(cfg RedactConfig) (*Redactor, error) {
	r := &Redactor{cfg: RedactConfig{Types: slices.Clone(cfg.Types), Custom: slices.Clone(cfg.Custom)}}
	for _, c := range cfg.Custom {
		if !validName(c.Name) {
			return nil, fmt.Errorf("custom pattern name %q: use letters, digits and _", c.Name)
		}
		re, err := regexp.Compile(c.Pattern)
		if err != nil {
			return nil, fmt.Errorf("custom pattern %s: %w", c.Name, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("custom pattern %s matches the empty string", c.Name)
		}
		r.rules = append(r.rules, redactRule{placeholder: placeholderFor(c.Name), re: re})
	}
	for _, t := range cfg.Types {
		if _, ok := builtin[t]; !ok {
			return nil, fmt.Errorf("unknown redaction type %q (known: %s)", t, strings.Join(RedactTypes, ", "))
		}
	}
	// Built-ins go in a fixed order: emails first; then international
	// phone numbers, whose leading + tells them from a card number that
	// happens to pass the Luhn check; then the checksummed numbers, so that
	// a card number is not half taken for a phone number; then the rest.
	order := []struct {
		kind  string
		rules []redactRule
	}{
		{RedactEmail, builtin[RedactEmail]},
		{RedactPhone, builtin[RedactPhone][:1]},
		{RedactIBAN, builtin[RedactIBAN]},
		{RedactCard, builtin[RedactCard]},
		{RedactGovID, builtin[RedactGovID]},
		{RedactPhone, builtin[RedactPhone][1:]},
	}
	for _, o := range order {
		if !slices.Contains(cfg.Types, o.kind) {
			continue
		}
		for _, rule := range o.rules {
			rule.placeholder = placeholderFor(o.kind)
			r.rules = append(r.rules, rule)
		}
	}
	return r, nil
}

func mustRedactor(cfg RedactConfig) *Redactor {
	r, err := NewRedactor(cfg)
	if err != nil {
		panic(err)
	}
	return r
}

// Redact returns text with every match replaced by its placeholder.
// Text that has compatibility forms (full-width digits, ligatures) is read
// in NFKC, so that "４１１１ １１１１..." is seen as the card number it is;
// it is returned in that form only when something in it was replaced.
func (r *Redactor) Redact(text string) string {
	if r == nil {
		return text
	}
	if !norm.NFKC.IsNormalString(text) {
		folded := norm.NFKC.String(text)
		if out := r.redact(folded); out != folded {
			return out
		}
		return text
	}
	return r.redact(text)
}

func (r *Redactor) redact(text string) string {
	for _, rule := range r.rules {
		locs := rule.re.FindAllStringSubmatchIndex(text, -1)
		if locs == nil {
			continue
		}
		var b strings.Builder
		last, replaced := 0, false
		for _, loc := range locs {
			start, end := loc[2*rule.group], loc[2*rule.group+1]
			if start < 0 || rule.valid != nil && !rule.valid(text, start, end) {
				continue
			}
			b.WriteString(text[last:start])
			b.WriteString(rule.placeholder)
			last, replaced = end, true
		}
		if !replaced {
			continue
		}
		b.WriteString(text[last:])
		text = b.String()
	}
	return text
}

// Types returns the kinds this Redactor replaces: its custom patterns'
// names, then the built-in kinds.
func (r *Redactor) Types() []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, c := range r.cfg.Custom {
		out = append(out, c.Name)
	}
	for _, t := range RedactTypes {
		if slices.Contains(r.cfg.Types, t) {
			out = append(out, t)
		}
	}
	return out
}

// Config returns what r was compiled from.
func (r *Redactor) Config() RedactConfig {
	if r == nil {
		return RedactConfig{}
	}
	return RedactConfig{Types: slices.Clone(r.cfg.Types), Custom: slices.Clone(r.cfg.Custom)}
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && c != '_' {
			return false
		}
	}
	return true
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// ssnValid checks the structure of a US Social Security number: the SSA
// issues no area 000, 666 or 900-999, no group 00 and no serial 0000.
func ssnValid(text string, start, end int) bool {
	d := digits(text[start:end])
	if len(d) != 9 || partOfLargerNumber(text, start, end) {
		return false
	}
	area, group, serial := d[:3], d[3:5], d[5:]
	return area != "000" && area != "666" && area[0] != '9' && group != "00" && serial != "0000"
}

// luhnValid checks the Luhn checksum of card and SIN numbers.
func luhnValid(m string) bool {
	d := digits(m)
	if len(d) < 9 {
		return false
	}
	sum := 0
	for i := range len(d) {
		n := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

// ibanValid checks an IBAN's mod-97 checksum.
func ibanValid(m string) bool {
	s := strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(m))
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	s = s[4:] + s[:4]
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			b.WriteRune(c)
		case c >= 'A' && c <= 'Z':
			fmt.Fprintf(&b, "%d", c-'A'+10)
		default:
			return false
		}
	}
	n, ok := new(big.Int).SetString(b.String(), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}
