package config

import "time"

// Breaker configures the recall breaker: when at least FailureRatio of at
// least MinRecalls recalls within Window ran out of the recall budget,
// chats skip recall for CoolDown (X-Memory-Status: failed-open: breaker,
// no store call at all); then one chat probes the store, and the breaker
// closes when that probe answers within the budget.
//
// Defaults: enabled, window 10s, min_recalls 20, failure_ratio 0.5,
// cool_down 5s.
type Breaker struct {
	Enabled      bool     `yaml:"enabled"`
	Window       Duration `yaml:"window"`
	MinRecalls   int      `yaml:"min_recalls"`
	FailureRatio float64  `yaml:"failure_ratio"`
	CoolDown     Duration `yaml:"cool_down"`
}

// defaultBreaker is the breaker's configuration when nothing is set.
func defaultBreaker() Breaker {
	return Breaker{
		Enabled: true, Window: Duration(10 * time.Second), MinRecalls: 20,
		FailureRatio: 0.5, CoolDown: Duration(5 * time.Second),
	}
}

// validate reports the first breaker setting that cannot work; bad names
// the setting.
func (b Breaker) validate(bad func(key, format string, args ...any) error) error {
	if !b.Enabled {
		return nil
	}
	if w := time.Duration(b.Window); w < time.Second || w > time.Hour {
		return bad("recall.breaker.window", "%v is out of range (1s to 1h)", w)
	}
	if b.MinRecalls < 1 {
		return bad("recall.breaker.min_recalls", "must be positive")
	}
	if b.FailureRatio <= 0 || b.FailureRatio > 1 {
		return bad("recall.breaker.failure_ratio", "%v is out of range (more than 0, at most 1)", b.FailureRatio)
	}
	if c := time.Duration(b.CoolDown); c < 100*time.Millisecond || c > time.Hour {
		return bad("recall.breaker.cool_down", "%v is out of range (100ms to 1h)", c)
	}
	return nil
}
