package testutil

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// GoSources parses the Go files the globs match, test files left out, for
// tests that check what the source says (that every message has its
// translation). Positions are fset's.
func GoSources(t testing.TB, fset *token.FileSet, globs ...string) []*ast.File {
	t.Helper()
	var out []*ast.File
	for _, glob := range globs {
		names, err := filepath.Glob(glob)
		if err != nil {
			t.Fatalf("glob %q: %v", glob, err)
		}
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, f)
		}
	}
	return out
}
