package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"strings"
)

// maxEntries bounds the changelog of a build far from its last tag.
const maxEntries = 100

// Changelog is the package's Debian changelog (deb-changelog(5)): one entry
// for this version listing the commits since the previous release, lines
// wrapped to 80 columns.
func (b *build) Changelog() string {
	var w strings.Builder
	fmt.Fprintf(&w, "port-traffic-dog (%s) unstable; urgency=medium\n\n", b.version)
	subjects := b.src.Subjects
	if len(subjects) == 0 {
		subjects = []string{"Packaged from commit " + b.src.Hash + "."}
	}
	more := 0
	if len(subjects) > maxEntries {
		subjects, more = subjects[:maxEntries], len(subjects)-maxEntries
	}
	for _, s := range subjects {
		w.WriteString(wrap(s, "  * ", "    ", 80))
	}
	if more > 0 {
		w.WriteString(wrap(fmt.Sprintf("... and %d earlier changes: see the project's git history.", more), "  * ", "    ", 80))
	}
	fmt.Fprintf(&w, "\n -- %s  %s\n", b.maintainer, b.src.Date.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	return w.String()
}

// wrap lays text out in lines of at most width columns, the first one
// starting with first, the rest with rest. A word longer than a line gets a
// line of its own.
func wrap(text, first, rest string, width int) string {
	var out strings.Builder
	line := first
	empty := true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+1+len(word) > width {
			out.WriteString(line + "\n")
			line, empty = rest, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	out.WriteString(line + "\n")
	return out.String()
}

// gzipBest compresses as gzip -9n does (no name, no time stamp), which is
// what Debian policy asks of changelogs.
func gzipBest(data string) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write([]byte(data)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
