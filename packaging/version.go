package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// source is what the package's version, changelog and timestamps are made
// from: the commit being packaged.
type source struct {
	Tag      string    // the nearest tag v*, "" without one
	Ahead    int       // commits from Tag to HEAD
	Hash     string    // short commit hash
	Date     time.Time // commit date
	Subjects []string  // commit subjects since the previous release, newest first
}

// debianVersion is what a Debian version may hold (deb-version(7)): it must
// start with a digit; an upstream version without a revision may not hold a
// hyphen.
var debianVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// CheckVersion rejects a VERSION= that dpkg would refuse or misorder.
func CheckVersion(v string) error {
	if !debianVersion.MatchString(v) {
		return fmt.Errorf("version %q: a Debian version starts with a digit and holds only letters, digits and . + ~ (e.g. 1.2.3 or 1.2.3~rc1)", v)
	}
	return nil
}

// tagRE is a release tag: v1.2.3, or a pre-release v1.2.3-rc1.
var tagRE = regexp.MustCompile(`^v([0-9]+\.[0-9]+\.[0-9]+)(?:-([0-9A-Za-z.]+))?$`)

// Version turns the commit into a Debian version that sorts:
//   - at a tag vX.Y.Z: X.Y.Z (a pre-release tag vX.Y.Z-rc1 gives X.Y.Z~rc1,
//     which sorts before X.Y.Z);
//   - past a tag: X.Y.Z+git<YYYYMMDD>.<hash>, above the tag, below the next;
//   - with no tag: 0.0~git<YYYYMMDD>.<hash>, below any release.
//
// The date is the commit's (UTC), so the same commit always gives the same
// version.
func (s source) Version() (string, error) {
	stamp := "git" + s.Date.UTC().Format("20060102") + "." + s.Hash
	if s.Tag == "" {
		return "0.0~" + stamp, nil
	}
	m := tagRE.FindStringSubmatch(s.Tag)
	if m == nil {
		return "", fmt.Errorf("tag %q: release tags look like v1.2.3 or v1.2.3-rc1; set VERSION= to choose the version", s.Tag)
	}
	v := m[1]
	if m[2] != "" {
		v += "~" + m[2]
	}
	if s.Ahead > 0 {
		v += "+" + stamp
	}
	return v, CheckVersion(v)
}

// readSource asks git about HEAD of the tree at root.
func readSource(root string) (source, error) {
	git := func(args ...string) (string, error) {
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr))
		}
		return strings.TrimSpace(string(out)), nil
	}
	var s source
	head, err := git("log", "-1", "--format=%h %ct")
	if err != nil {
		return s, err
	}
	var unix int64
	if _, err := fmt.Sscanf(head, "%s %d", &s.Hash, &unix); err != nil {
		return s, fmt.Errorf("git log -1: unexpected %q", head)
	}
	s.Date = time.Unix(unix, 0).UTC()
	since := "HEAD"
	// No tag is not an error: the version is then 0.0~git….
	if tag, err := git("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*"); err == nil {
		s.Tag = tag
		n, err := git("rev-list", "--count", tag+"..HEAD")
		if err != nil {
			return s, err
		}
		if s.Ahead, err = strconv.Atoi(n); err != nil {
			return s, fmt.Errorf("git rev-list --count: unexpected %q", n)
		}
		since = tag + "..HEAD"
		if s.Ahead == 0 {
			// At the tag: its changes are those since the tag before it.
			since = "HEAD"
			if prev, err := git("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", tag+"^"); err == nil {
				since = prev + "..HEAD"
			}
		}
	}
	log, err := git("log", "--no-merges", "--format=%s", since)
	if err != nil {
		return s, err
	}
	if log != "" {
		s.Subjects = strings.Split(log, "\n")
	}
	return s, nil
}
