package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVersion(t *testing.T) {
	date := time.Date(2026, 12, 5, 23, 30, 0, 0, time.FixedZone("CST", 8*3600)) // 15:30 UTC
	for _, c := range []struct {
		tag   string
		ahead int
		want  string
	}{
		{"", 0, "0.0~git20261205.abc1234"},
		{"v1.2.3", 0, "1.2.3"},
		{"v1.2.3", 4, "1.2.3+git20261205.abc1234"},
		{"v1.2.3-rc1", 0, "1.2.3~rc1"},
		{"v1.2.3-rc1", 2, "1.2.3~rc1+git20261205.abc1234"},
	} {
		got, err := source{Tag: c.tag, Ahead: c.ahead, Hash: "abc1234", Date: date}.Version()
		if err != nil || got != c.want {
			t.Errorf("tag %q +%d: %q, %v; want %q", c.tag, c.ahead, got, err, c.want)
		}
	}
	if _, err := (source{Tag: "vnext", Hash: "abc1234", Date: date}).Version(); err == nil || !strings.Contains(err.Error(), `"vnext"`) {
		t.Errorf("a tag that is no version: %v", err)
	}
}

// TestVersionsSort checks with dpkg itself that the versions sort as
// releases do: untagged builds before any release, a pre-release before its
// release, builds past a tag after it and before the next.
func TestVersionsSort(t *testing.T) {
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg not installed")
	}
	order := []string{"0.0~git20261205.abc1234", "0.0~git20261206.0000000", "1.2.3~rc1", "1.2.3~rc1+git20261207.1111111",
		"1.2.3", "1.2.3+git20261201.2222222", "1.2.4"}
	for i := 1; i < len(order); i++ {
		if err := exec.Command(dpkg, "--compare-versions", order[i-1], "lt", order[i]).Run(); err != nil {
			t.Errorf("dpkg: %s is not below %s", order[i-1], order[i])
		}
	}
}

func TestCheckVersion(t *testing.T) {
	for _, ok := range []string{"1.2.3", "0.0~git20261205.abc1234", "2.0+b1"} {
		if err := CheckVersion(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "v1.2.3", "1.2.3-1", "1.2 3", "1:2.3"} {
		if err := CheckVersion(bad); err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("%q accepted or not named: %v", bad, err)
		}
	}
}

// TestReadSource runs git on a scratch repository: before a tag, at it
// and past it.
func TestReadSource(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE=2026-12-05T10:00:00Z", "GIT_COMMITTER_DATE=2026-12-05T10:00:00Z",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.org")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	commit := func(msg string) {
		os.WriteFile(filepath.Join(dir, "f"), []byte(msg), 0o644)
		git("add", "f")
		git("commit", "-q", "-m", msg)
	}
	version := func() (string, source) {
		t.Helper()
		s, err := readSource(dir)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.Version()
		if err != nil {
			t.Fatal(err)
		}
		return v, s
	}
	git("init", "-q")
	commit("first")
	if v, s := version(); !strings.HasPrefix(v, "0.0~git20261205.") || len(s.Subjects) != 1 {
		t.Errorf("untagged: %s, %q", v, s.Subjects)
	}
	commit("second")
	git("tag", "v1.0.0")
	if v, s := version(); v != "1.0.0" || strings.Join(s.Subjects, ",") != "second,first" {
		t.Errorf("at v1.0.0: %s, %q", v, s.Subjects)
	}
	commit("third")
	git("tag", "v1.1.0")
	if v, s := version(); v != "1.1.0" || strings.Join(s.Subjects, ",") != "third" {
		t.Errorf("at v1.1.0: %s, %q (want only the changes since v1.0.0)", v, s.Subjects)
	}
	commit("fourth")
	if v, s := version(); !strings.HasPrefix(v, "1.1.0+git20261205.") || strings.Join(s.Subjects, ",") != "fourth" {
		t.Errorf("past v1.1.0: %s, %q", v, s.Subjects)
	}
}

func TestChangelogWraps(t *testing.T) {
	b := &build{version: "1.0.0", maintainer: "M <m@example.org>", src: source{
		Hash: "abc", Date: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC),
		Subjects: []string{strings.Repeat("word ", 40) + "end", "short"},
	}}
	cl := b.Changelog()
	for _, l := range strings.Split(cl, "\n") {
		if len(l) > 80 {
			t.Errorf("line of %d columns: %q", len(l), l)
		}
	}
	for _, want := range []string{"port-traffic-dog (1.0.0) unstable; urgency=medium\n", "  * word word", "    word", "  * short\n",
		"\n -- M <m@example.org>  Sat, 05 Dec 2026 10:00:00 +0000\n"} {
		if !strings.Contains(cl, want) {
			t.Errorf("changelog lacks %q:\n%s", want, cl)
		}
	}
}
