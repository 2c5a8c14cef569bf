// Package version says which memproxy this is.
//
// A release build stamps it:
//
//	go build -ldflags "-X github.com/memproxy/memproxy/internal/version.stamped=v1.2.3" .
//
// Without a stamp, the version is read from the build information the Go
// toolchain records: the module's version (set by go install module@v1.2.3,
// or derived from the VCS by go build), else the VCS revision. A binary with
// neither, such as one from go run, is "devel".
package version

import (
	"runtime/debug"
)

// stamped is set at link time with -ldflags -X; see the package comment.
var stamped string

// String is the version of this binary, e.g. "v1.2.3",
// "v0.0.0-20260101120000-0123456789ab+dirty", "devel-0123456789ab" or "devel".
func String() string {
	bi, _ := debug.ReadBuildInfo() // nil without build information
	return resolve(stamped, bi)
}

// resolve picks the version from a stamp, else from build information
// (nil when there is none).
func resolve(stamp string, bi *debug.BuildInfo) string {
	if stamp != "" {
		return stamp
	}
	if bi == nil {
		return "devel"
	}
	// The module version already carries the revision of a pseudo-version
	// and "+dirty" for a modified tree: it says it all.
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12] // as in Go's pseudo-versions
	}
	v := "devel-" + rev
	if modified {
		v += "-dirty"
	}
	return v
}
