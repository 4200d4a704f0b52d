package testutil

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var fuzzFunc = regexp.MustCompile(`(?m)^func (Fuzz[A-Za-z0-9_]+)\(`)

// TestEveryFuzzTargetHasASeedCorpus: each fuzz target of the module has a
// committed seed corpus in testdata/fuzz/<Target>/ (which every go test
// runs), so the inputs that matter (and every crash a fuzzer found) are
// checked on each run, not only when someone fuzzes. scripts/fuzz.sh
// finds the targets the same way.
func TestEveryFuzzTargetHasASeedCorpus(t *testing.T) {
	root := filepath.Join("..", "..")
	found := 0
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if n := d.Name(); n == ".git" || n == "testdata" || n == "bench" {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(path) != ".go" || !bytes.HasSuffix([]byte(path), []byte("_test.go")) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			return nil
		}
		for _, m := range fuzzFunc.FindAllSubmatch(src, -1) {
			found++
			dir := filepath.Join(filepath.Dir(path), "testdata", "fuzz", string(m[1]))
			entries, err := os.ReadDir(dir)
			if err != nil || len(entries) < 3 {
				t.Errorf("%s (%s): %d seed files in %s (%v), want at least 3", m[1], path, len(entries), dir, err)
				continue
			}
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil || !bytes.HasPrefix(b, []byte("go test fuzz v1\n")) {
					t.Errorf("%s: not a corpus file (%v)", filepath.Join(dir, e.Name()), err)
				}
			}
		}
		return nil
	})
	if found < 8 {
		t.Errorf("found %d fuzz targets, want at least the 8 of docs/RELIABILITY.md", found)
	}
}
