// Command testsum reads `go test -json` on stdin, prints each failing test's
// output, every skipped test's reason, and a closing "N passed, N failed,
// N skipped" line; it exits 1 if anything failed (a build error included).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	type key struct{ pkg, test string }
	output := map[key]*strings.Builder{}
	var passed, failed, skipped int
	var failures, skips []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Println(string(line)) // build output and panics are not JSON
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			b := output[k]
			if b == nil {
				b = &strings.Builder{}
				output[k] = b
			}
			b.WriteString(e.Output)
		case "pass":
			if e.Test != "" {
				passed++
			} else {
				fmt.Printf("ok   %s (%.1fs)\n", e.Package, e.Elapsed)
			}
		case "skip":
			if e.Test != "" {
				skipped++
				skips = append(skips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, lastLine(output[k])))
			}
		case "fail":
			if e.Test != "" {
				failed++
				failures = append(failures, fmt.Sprintf("--- FAIL %s %s (%.1fs)\n%s", e.Package, e.Test, e.Elapsed, text(output[k])))
			} else {
				fmt.Printf("FAIL %s (%.1fs)\n", e.Package, e.Elapsed)
				if b := output[k]; b != nil && !strings.Contains(b.String(), "--- FAIL") {
					failed++ // the package failed outside any test: build error, panic, timeout
					failures = append(failures, fmt.Sprintf("--- FAIL %s\n%s", e.Package, b.String()))
				}
			}
		}
	}
	sort.Strings(skips)
	for _, s := range skips {
		fmt.Println("SKIP", s)
	}
	for _, f := range failures {
		fmt.Println(f)
	}
	fmt.Printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 {
		os.Exit(1)
	}
}

func text(b *strings.Builder) string {
	if b == nil {
		return ""
	}
	return b.String()
}

func lastLine(b *strings.Builder) string {
	lines := strings.Split(strings.TrimSpace(text(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "--- SKIP") {
			return l
		}
	}
	return ""
}
