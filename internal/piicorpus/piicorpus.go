// Package piicorpus is test data: personal data in many formats, which
// memproxy's default redaction must keep out of the store, the history and
// any model. The policies tests check the redactor against it; the proxy
// tests check that none of it gets past the sidecar.
package piicorpus

// Cases are personal data in many formats, each in a sentence, with the
// placeholder the default redaction must make of it.
var Cases = []struct{ Text, Secret, Placeholder string }{
	{"Email me at jane.doe@example.com please", "jane.doe@example.com", "[EMAIL]"},
	{"my address is JANE+news@Mail.Example.co.uk", "JANE+news@Mail.Example.co.uk", "[EMAIL]"},
	{"write to jane (at) example (dot) org", "jane (at) example (dot) org", "[EMAIL]"},
	{"call +1 (555) 123-4567 after six", "+1 (555) 123-4567", "[PHONE]"},
	{"my cell is 555-123-4567", "555-123-4567", "[PHONE]"},
	{"or (555) 987 6543 at work", "(555) 987 6543", "[PHONE]"},
	{"UK number +44 20 7946 0958", "+44 20 7946 0958", "[PHONE]"},
	{"en France +33 6 12 34 56 78", "+33 6 12 34 56 78", "[PHONE]"},
	{"mobile 06 12 34 56 78", "06 12 34 56 78", "[PHONE]"},
	{"Germany +4915112345678", "+4915112345678", "[PHONE]"},
	{"reach me on 555.867.5309", "555.867.5309", "[PHONE]"},
	{"plain digits 5551234567 work too", "5551234567", "[PHONE]"},
	{"my Visa is 4111 1111 1111 1111", "4111 1111 1111 1111", "[CARD]"},
	{"card 5500-0000-0000-0004 expires soon", "5500-0000-0000-0004", "[CARD]"},
	{"amex 378282246310005", "378282246310005", "[CARD]"},
	{"SSN is 123-45-6789", "123-45-6789", "[GOV_ID]"},
	{"social security 078 05 1120", "078 05 1120", "[GOV_ID]"},
	{"my NI number is AB 12 34 56 C", "AB 12 34 56 C", "[GOV_ID]"},
	{"NINO: JG103759A", "JG103759A", "[GOV_ID]"},
	{"SIN 046-454-286 for the tax form", "046-454-286", "[GOV_ID]"},
	{"passport number X12345678", "X12345678", "[GOV_ID]"},
	{"IBAN DE89 3704 0044 0532 0130 00 for rent", "DE89 3704 0044 0532 0130 00", "[IBAN]"},
	{"pay GB82WEST12345698765432", "GB82WEST12345698765432", "[IBAN]"},

	// Formats people type that a first cut missed.
	{"iban de89 3704 0044 0532 0130 00 thanks", "de89 3704 0044 0532 0130 00", "[IBAN]"},
	{"IBAN DE89-3704-0044-0532-0130-00", "DE89-3704-0044-0532-0130-00", "[IBAN]"},
	{"card 4111.1111.1111.1111 on file", "4111.1111.1111.1111", "[CARD]"},
	{"card 4111_1111_1111_1111 on file", "4111_1111_1111_1111", "[CARD]"},
	{"from abroad 0044 20 7946 0958", "0044 20 7946 0958", "[PHONE]"},
	{"in Germany 0049 151 23456789", "0049 151 23456789", "[PHONE]"},
	{"call 1-800-555-0199 for support", "1-800-555-0199", "[PHONE]"},
	{"my direct line is 555-0199", "555-0199", "[PHONE]"},
	{"Jenny's number 867.5309", "867.5309", "[PHONE]"},
	{"write to josé.müller@exämple.de", "josé.müller@exämple.de", "[EMAIL]"},
	{"mail 用户@例子.广告 today", "用户@例子.广告", "[EMAIL]"},
	{"it's jane dot doe at example dot com", "jane dot doe at example dot com", "[EMAIL]"},
	{"full-width ４１１１ １１１１ １１１１ １１１１ card", "1111 1111 1111", "[CARD]"},
	// Secrets are distinctive enough never to occur by chance in the
	// timestamps and ids of the outbox file, which a test searches for
	// them: this one is the number's folded (ASCII) form, as it would
	// leak if only part of the text were redacted.
	{"ＳＳＮ ５３６-２２-４８１７", "536-22-4817", "[GOV_ID]"},
	{"DL: D1234567", "D1234567", "[GOV_ID]"},
	{"driver's license no. D1234567", "D1234567", "[GOV_ID]"},
}
