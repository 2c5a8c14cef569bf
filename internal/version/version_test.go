package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	const rev = "0123456789abcdef0123456789abcdef01234567"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, tc := range []struct {
		name  string
		stamp string
		bi    *debug.BuildInfo
		want  string
	}{
		{"stamped wins", "v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v1.0.0"}, Settings: vcs("true")}, "v1.2.3"},
		{"stamped, no build info", "v1.2.3", nil, "v1.2.3"},
		{"go install module@version", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"go build in a checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260101120000-0123456789ab+dirty"}, Settings: vcs("true")},
			"v0.0.0-20260101120000-0123456789ab+dirty"},
		{"revision only, clean", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")}, "devel-0123456789ab"},
		{"revision only, modified", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")}, "devel-0123456789ab-dirty"},
		{"go run: nothing recorded", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel"},
		{"no build info", "", nil, "devel"},
	} {
		if got := resolve(tc.stamp, tc.bi); got != tc.want {
			t.Errorf("%s: resolve = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	if String() == "" {
		t.Error("String() is empty")
	}
}

// TestStampAsTheDockerfileDoes builds a small program with the -X flag the
// Dockerfile passes, so that renaming the variable cannot silently leave
// images unstamped.
func TestStampAsTheDockerfileDoes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`-X (\S+)=\$\{?VERSION\}?`).FindSubmatch(dockerfile)
	if m == nil {
		t.Fatal("the Dockerfile does not stamp the version with -X ...=${VERSION}")
	}
	bin := filepath.Join(t.TempDir(), "printversion")
	build := func(ldflags string) string {
		t.Helper()
		cmd := exec.Command("go", "build", "-o", bin, "-ldflags", ldflags, "./testdata/printversion")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build -ldflags %q: %v\n%s", ldflags, err, out)
		}
		out, err := exec.Command(bin).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	if got := build("-X " + string(m[1]) + "=v9.8.7"); got != "v9.8.7" {
		t.Errorf("stamped with -X %s=v9.8.7, the version is %q", m[1], got)
	}
	// An empty build argument leaves it to the build information.
	if got := build("-X " + string(m[1]) + "="); got == "" || got == "v9.8.7" {
		t.Errorf("unstamped, the version is %q", got)
	}
}
