package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFlagsQuickDefaults(t *testing.T) {
	o, err := parseFlags([]string{"-quick"})
	if err != nil {
		t.Fatal(err)
	}
	if o.dur != 2*time.Second || o.warm != 500*time.Millisecond || o.slice != 500*time.Millisecond || o.quietWait != 20*time.Second {
		t.Errorf("quick windows: duration %v, warm-up %v, slice %v, quiet wait %v", o.dur, o.warm, o.slice, o.quietWait)
	}
	if !slices.Equal(o.rates, []float64{200, 1000, 2000}) || !slices.Equal(o.sizes, []int{1000, 10000}) || !slices.Equal(o.concs, []int{16}) {
		t.Errorf("quick: rates %v, sizes %v, concurrency %v", o.rates, o.sizes, o.concs)
	}
	for _, s := range sectionNames {
		if !o.sections[s] {
			t.Errorf("section %s not run by default", s)
		}
	}
	if o.command != "go run ./bench -quick" {
		t.Errorf("command = %q", o.command)
	}
}

func TestParseFlagsQuickKeepsWhatIsSet(t *testing.T) {
	o, err := parseFlags([]string{"-quick", "-duration", "7s", "-rates", "300", "-quiet-wait", "0", "-sections", "stream, quality"})
	if err != nil {
		t.Fatal(err)
	}
	if o.dur != 7*time.Second || !slices.Equal(o.rates, []float64{300}) || o.quietWait != 0 {
		t.Errorf("set flags overridden by -quick: duration %v, rates %v, quiet wait %v", o.dur, o.rates, o.quietWait)
	}
	if len(o.sections) != 2 || !o.sections["stream"] || !o.sections["quality"] {
		t.Errorf("sections = %v", o.sections)
	}
}

func TestParseFlagsFull(t *testing.T) {
	o, err := parseFlags([]string{"-baseline-env", "GOMAXPROCS=1, GOGC=200"})
	if err != nil {
		t.Fatal(err)
	}
	if o.dur != 10*time.Second || len(o.rates) != 6 || !slices.Equal(o.sizes, []int{1000, 100000}) || o.quietWait != 5*time.Minute {
		t.Errorf("defaults: duration %v, rates %v, sizes %v, quiet wait %v", o.dur, o.rates, o.sizes, o.quietWait)
	}
	if o.baselineEnv["GOMAXPROCS"] != "1" || o.baselineEnv["GOGC"] != "200" || len(o.baselineEnv) != 2 {
		t.Errorf("baseline env = %v", o.baselineEnv)
	}
}

func TestParseFlagsRejects(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-rates", "100,x"}, "-rates"},
		{[]string{"-rates", "0"}, "-rates"},
		{[]string{"-sizes", "-5"}, "-sizes"},
		{[]string{"-concurrency", "1.5"}, "-concurrency"},
		{[]string{"-runs", "0"}, "-runs"},
		{[]string{"-sections", "passthrough,streaming"}, "unknown section"},
		{[]string{"-sidecar", "/bin/true", "-profile", "/tmp/p"}, "-profile"},
		{[]string{"-milvus", "10.0.0.1:19530"}, "loopback"},
		{[]string{"extra"}, "unexpected"},
	} {
		_, err := parseFlags(c.args)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseFlags(%q) = %v, want an error about %s", c.args, err, c.want)
		}
	}
}
