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
	// More phone formats, national and international, as people write
	// them in different countries.
	{"my office is (212) 555-0147", "(212) 555-0147", "[PHONE]"},
	{"call me on 212.555.0183 tonight", "212.555.0183", "[PHONE]"},
	{"text 415 555 0132 when you land", "415 555 0132", "[PHONE]"},
	{"US cell +1 415-555-0178", "+1 415-555-0178", "[PHONE]"},
	{"my number is +1.646.555.0123", "+1.646.555.0123", "[PHONE]"},
	{"London office 020 7946 0321", "020 7946 0321", "[PHONE]"},
	{"UK mobile 07911 123456", "07911 123456", "[PHONE]"},
	{"ring +44 7911 123456 anytime", "+44 7911 123456", "[PHONE]"},
	{"Festnetz 030 12345678", "030 12345678", "[PHONE]"},
	{"Handy 0151 23456789", "0151 23456789", "[PHONE]"},
	{"Berlin +49 30 12345678", "+49 30 12345678", "[PHONE]"},
	{"appelle-moi au 01 42 68 53 00", "01 42 68 53 00", "[PHONE]"},
	{"portable 07.12.34.56.78", "07.12.34.56.78", "[PHONE]"},
	{"Tokyo office +81 3-1234-5678", "+81 3-1234-5678", "[PHONE]"},
	{"India +91 98765 43210", "+91 98765 43210", "[PHONE]"},
	{"Sydney +61 2 9876 5432", "+61 2 9876 5432", "[PHONE]"},
	{"Australian mobile +61 412 345 678", "+61 412 345 678", "[PHONE]"},
	{"Brazil +55 11 98765-4321", "+55 11 98765-4321", "[PHONE]"},
	{"Madrid +34 912 345 678", "+34 912 345 678", "[PHONE]"},
	{"Roma +39 06 6982 1234", "+39 06 6982 1234", "[PHONE]"},
	{"Mexico +52 55 1234 5678", "+52 55 1234 5678", "[PHONE]"},
	{"WhatsApp +86 138 0013 8000", "+86 138 0013 8000", "[PHONE]"},
	{"Seoul +82 10-1234-5678", "+82 10-1234-5678", "[PHONE]"},
	{"Lagos +234 803 123 4567", "+234 803 123 4567", "[PHONE]"},
	{"Amsterdam +31 20 123 4567", "+31 20 123 4567", "[PHONE]"},
	{"dial 0033 1 42 68 53 00 from abroad", "0033 1 42 68 53 00", "[PHONE]"},
	{"phone: 2125550199", "2125550199", "[PHONE]"},
	{"my SSN: 219-09-9999", "219-09-9999", "[GOV_ID]"},
	{"passport no. 533380006 renewed", "533380006", "[GOV_ID]"},
	{"license number: DL-48213377", "DL-48213377", "[GOV_ID]"},
}
