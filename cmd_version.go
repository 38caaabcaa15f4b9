package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// revision is the VCS revision set with -ldflags "-X main.revision=...",
// for builds without the repository (a container build); the revision
// that go build stamps from the repository wins.
var revision = ""

// versionCmd prints what buildInfo says about this binary.
func versionCmd(stdout io.Writer) int {
	fmt.Fprint(stdout, buildInfo(version))
	return exitOK
}

// buildInfo describes the binary for `opsbot version`: the version set with
// -ldflags "-X main.version=v1.2.3" (or the module version of `go install
// opsbot@v1.2.3`), the Go toolchain, and the VCS revision that `go build`
// stamps unless -buildvcs=false.
func buildInfo(version string) string {
	var b strings.Builder
	info, ok := debug.ReadBuildInfo()
	if version == "dev" && ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	fmt.Fprintf(&b, "opsbot %s\n", version)
	fmt.Fprintf(&b, "go:       %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	settings := map[string]string{}
	if ok {
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		rev = revision
	}
	if rev == "" {
		b.WriteString("revision: unknown (built without VCS stamping, e.g. -buildvcs=false)\n")
	} else {
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
		if t := settings["vcs.time"]; t != "" {
			rev += ", committed " + t
		}
		fmt.Fprintf(&b, "revision: %s\n", rev)
	}
	if cgo := settings["CGO_ENABLED"]; cgo != "" {
		fmt.Fprintf(&b, "cgo:      %s\n", map[string]string{"0": "off (static)", "1": "on"}[cgo])
	}
	return b.String()
}
