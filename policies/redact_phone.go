package policies

import (
	"regexp"
	"strings"
	"unicode"

	"github.com/nyaruka/phonenumbers"
)

// Phone numbers are found in two steps: loose patterns find candidates,
// and libphonenumber's metadata (github.com/nyaruka/phonenumbers, Google's
// rules per country, kept up to date by its maintainers) decides whether a
// candidate can be a number at all. A digit count cannot tell the IP
// address 192.168.100.200 or the list 100 200 300 400 from a phone number;
// the numbering plans can.

// trunkRegions are the countries whose national numbers, dialled with a
// leading 0, a candidate is checked against: a number written without a
// country code is taken as a number of one of them.
var trunkRegions = []string{"GB", "FR", "DE", "NL", "IT", "AU"}

// phoneIntlValid checks a number written with its country code after a +:
// with the country code given, a possible length for that country is
// enough (the + says it is a phone number; fictional numbers such as
// +1 555 0100 are still numbers people write).
func phoneIntlValid(text string, start, end int) bool {
	m := text[start:end]
	if partOfLargerNumber(text, start, end) {
		return false
	}
	n, err := phonenumbers.Parse(m, "ZZ")
	return err == nil && phonenumbers.IsPossibleNumber(n)
}

// phone00Valid checks a number dialled with 00 before the country code,
// which must be a valid number of that country: a run of zeros starts
// many numbers that are not phone numbers.
func phone00Valid(text string, start, end int) bool {
	if partOfLargerNumber(text, start, end) || labelled(text, start) {
		return false
	}
	n, err := phonenumbers.Parse("+"+strings.TrimPrefix(text[start:end], "00"), "ZZ")
	return err == nil && phonenumbers.IsValidNumber(n)
}

// nanpGrouped is how North American numbers are written: (555) 123-4567,
// 555-123-4567, 555.123.4567, 555 123 4567.
var nanpGrouped = regexp.MustCompile(`^(?:\(\d{3}\)\s?|\d{3}[\s.\-])\d{3}[\s.\-]\d{4}$`)

// phoneNationalValid checks a number written without a country code. With
// a leading 0 (the trunk prefix) it must be a valid number of one of
// trunkRegions; without one it must be a North American number in its
// usual grouping, whose area code starts with 2-9 (so a Unix time such as
// 1712345678 is not one).
func phoneNationalValid(text string, start, end int) bool {
	m := text[start:end]
	if partOfLargerNumber(text, start, end) || labelled(text, start) || datePattern.MatchString(m) {
		return false
	}
	d := digits(m)
	if d == "" {
		return false
	}
	if d[0] == '0' {
		for _, region := range trunkRegions {
			if n, err := phonenumbers.Parse(m, region); err == nil && phonenumbers.IsValidNumberForRegion(n, region) {
				return true
			}
		}
		return false
	}
	if !nanpGrouped.MatchString(m) && !(len(m) == 10 && d == m) {
		return false
	}
	return nanpPossible(d)
}

// phoneTrunkedNANPValid checks a North American number with its leading
// 1: 1-800-555-0199.
func phoneTrunkedNANPValid(text string, start, end int) bool {
	if partOfLargerNumber(text, start, end) || labelled(text, start) {
		return false
	}
	return nanpPossible(digits(text[start:end])[1:])
}

// nanpPossible reports whether ten digits can be a North American number:
// an area code that starts with 2-9, and a possible length.
func nanpPossible(d string) bool {
	if len(d) != 10 || d[0] < '2' {
		return false
	}
	n, err := phonenumbers.Parse(d, "US")
	return err == nil && phonenumbers.IsPossibleNumber(n)
}

// phoneLocalValid checks a seven-digit local number (555-0199), which the
// North American plan allows when the area code is implied.
func phoneLocalValid(text string, start, end int) bool {
	if partOfLargerNumber(text, start, end) || labelled(text, start) {
		return false
	}
	n, err := phonenumbers.Parse(text[start:end], "US")
	return err == nil && phonenumbers.IsPossibleNumberWithReason(n) == phonenumbers.IS_POSSIBLE_LOCAL_ONLY
}

// partOfLargerNumber reports whether the match at text[start:end] is a
// piece of a longer run of digits and punctuation: an IP address
// (192.168.178.1), a version (10.0.22631.3296), a time (23:59:59) or a
// number with more groups than a phone number has.
func partOfLargerNumber(text string, start, end int) bool {
	before, after := text[:start], text[end:]
	if len(after) >= 2 && strings.ContainsRune(".:,/", rune(after[0])) && isDigit(after[1]) {
		return true
	}
	if len(before) >= 2 && strings.ContainsRune(".:,/", rune(before[len(before)-1])) && isDigit(before[len(before)-2]) {
		return true
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// notPhoneLabels are words that, just before a number, say what it is
// when it is not a phone number.
var notPhoneLabels = map[string]bool{
	"order": true, "tracking": true, "track": true, "shipment": true, "parcel": true, "package": true,
	"invoice": true, "receipt": true, "ticket": true, "claim": true, "case": true, "ref": true,
	"reference": true, "booking": true, "reservation": true, "confirmation": true, "rma": true, "po": true,
	"item": true, "sku": true, "isbn": true, "ean": true, "upc": true, "serial": true, "model": true,
	"part": true, "version": true, "build": true, "id": true, "epoch": true, "timestamp": true, "ts": true,
	"unix": true, "expiry": true, "expires": true, "created_at": true, "updated_at": true, "lot": true,
	"batch": true,
}

// labelled reports whether the words just before text[start:] name the
// number as something other than a phone number ("order 4839201756",
// "ISBN 0-306-40615-2"), continue a code ("1Z 999 AA1 01 2345 6784"), or
// make it the result of a sum ("= 4294967296"). Placeholders of earlier
// redactions ("[TICKET]") are not words of the text.
func labelled(text string, start int) bool {
	before := strings.TrimRight(text[:start], " \t")
	if i := strings.LastIndexByte(before, ']'); i >= 0 {
		before = before[i+1:]
	}
	if strings.HasSuffix(before, "=") {
		return true
	}
	words := strings.FieldsFunc(strings.ToLower(before), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
	})
	if len(words) == 0 {
		return false
	}
	if last := words[len(words)-1]; strings.IndexFunc(last, unicode.IsLetter) >= 0 && strings.IndexFunc(last, unicode.IsDigit) >= 0 &&
		strings.HasSuffix(before, last[len(last)-1:]) {
		return true
	}
	for i := len(words) - 1; i >= 0 && i >= len(words)-2; i-- {
		if notPhoneLabels[words[i]] {
			return true
		}
	}
	return false
}

// datePattern is a date written with numbers: 03.02.2024, 2024-04-12,
// 12/31/2024, 03 15 2025.
var datePattern = regexp.MustCompile(`^(?:\d{1,2}[./\-]\d{1,2}[./\-](?:\d{2}|\d{4})|\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|` +
	`\d{1,2} \d{1,2} (?:19|20)\d{2}|(?:19|20)\d{2} \d{1,2} \d{1,2})$`)
