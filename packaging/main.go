// Command debpkg builds the Debian packages of Port Traffic Dog with nfpm:
// for each architecture it cross-compiles the three commands (CGO off, so
// they are static and run on any Debian of that architecture) and packs them
// with the systemd units, the sysusers snippet, the example config as a
// conffile, the alerting and dashboard files, the docs, a copyright file
// naming every Go module linked in, a changelog made from git, and the
// maintainer scripts of deploy/deb. `make deb` runs it.
//
// It is a module of its own so that nfpm and its dependencies never enter
// the product's go.mod.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "debpkg:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("debpkg", flag.ContinueOnError)
	root := fs.String("root", "..", "the source tree (holds go.mod, cmd/, deploy/)")
	out := fs.String("out", "dist", "where the .deb files are written")
	version := fs.String("version", "", "the package version (default: from git: vX.Y.Z → X.Y.Z, untagged → 0.0~git<YYYYMMDD>.<hash>)")
	archs := fs.String("arch", "amd64,arm64", "Debian/Go architectures to build, comma-separated")
	maintainer := fs.String("maintainer", "Port Traffic Dog maintainers <maintainers@users.noreply.r-seed-652fa438.example>", "the Maintainer field")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := newBuild(*root, *version, *maintainer)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, arch := range strings.Split(*archs, ",") {
		path, err := b.pack(strings.TrimSpace(arch), *out)
		if err != nil {
			return fmt.Errorf("%s: %w", arch, err)
		}
		fmt.Println(path)
	}
	return nil
}

// build is what every architecture's package shares.
type build struct {
	root       string
	goBin      string
	version    string
	maintainer string
	src        source
}

func newBuild(root, version, maintainer string) (*build, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return nil, fmt.Errorf("-root %s is not the source tree: %w", root, err)
	}
	b := &build{root: root, maintainer: maintainer, version: version}
	if b.goBin, err = exec.LookPath("go"); err != nil {
		b.goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	b.src, err = readSource(root)
	if err != nil {
		if version == "" {
			return nil, fmt.Errorf("no version from git (%v): set VERSION=", err)
		}
		// A source tree without git history: VERSION= names the version,
		// SOURCE_DATE_EPOCH (if set) the time, for reproducible packages.
		b.src = source{Hash: "unknown", Date: time.Now().UTC()}
		if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" {
			sec, err := strconv.ParseInt(e, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("SOURCE_DATE_EPOCH=%q: not a number of seconds", e)
			}
			b.src.Date = time.Unix(sec, 0).UTC()
		}
	}
	if version == "" {
		if b.version, err = b.src.Version(); err != nil {
			return nil, err
		}
	} else if err := CheckVersion(version); err != nil {
		return nil, fmt.Errorf("VERSION=%s: %w", version, err)
	}
	return b, nil
}

// goCmd runs the go command in the source tree for linux/arch.
func (b *build) goCmd(arch string, args ...string) ([]byte, error) {
	cmd := exec.Command(b.goBin, args...)
	cmd.Dir = b.root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go %s (GOARCH=%s): %v\n%s", strings.Join(args, " "), arch, err, stderr.String())
	}
	return out, nil
}

// compile builds dog, dog-enforcer and dog-exporter into dir, as the
// Makefile's build target does (stripped, with the version stamped in), but
// position-independent: the kernel then loads them at random addresses
// (ASLR), and they need no library but the ELF loader every Debian has.
func (b *build) compile(arch, dir string) error {
	ldflags := "-s -w" +
		" -X github.com/prometheus/common/version.Version=" + b.version +
		" -X github.com/prometheus/common/version.Revision=" + b.src.Hash
	_, err := b.goCmd(arch, "build", "-buildmode=pie", "-trimpath", "-ldflags", ldflags, "-o", dir+string(filepath.Separator), "./cmd/...")
	return err
}
