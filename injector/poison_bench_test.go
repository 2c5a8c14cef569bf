package injector

import "testing"

// BenchmarkSuspicious measures the check on an ordinary memory, the
// common case: a block holds dozens of them on every chat request.
func BenchmarkSuspicious(b *testing.B) {
	for _, bc := range []struct{ name, text string }{
		{"ascii", "Sarah is training for a half marathon in June and prefers morning runs before work"},
		{"unicode", "Sarah läuft im Juni einen Halbmarathon und trainiert morgens vor der Arbeit – 早上跑步"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				Suspicious(bc.text)
			}
		})
	}
}
