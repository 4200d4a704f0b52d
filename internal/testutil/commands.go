package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// BuildCommands builds the module's commands (dog, dog-enforcer,
// dog-exporter) as the Makefile ships them (-trimpath) into a new
// temporary directory that any user may enter (some tests run one as
// nobody). The caller removes it.
func BuildCommands() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		// The toolchain that built this test binary a moment ago.
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // see above
	}
	dir, err := os.MkdirTemp("", "dog-test-bin-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	out, err := exec.Command(goBin, "build", "-trimpath", "-o", dir+"/", "port-traffic-dog/cmd/...").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return dir, nil
}

// Commands builds the commands once per test binary, when a test first
// needs them. Keep one in a package variable and call Remove from TestMain.
type Commands struct {
	once sync.Once
	dir  string
	err  error
}

// Dir returns the directory holding the built commands.
func (c *Commands) Dir(t testing.TB) string {
	t.Helper()
	c.once.Do(func() { c.dir, c.err = BuildCommands() })
	if c.err != nil {
		t.Fatal(c.err)
	}
	return c.dir
}

// Remove deletes the directory, if the commands were built.
func (c *Commands) Remove() {
	if c.dir != "" {
		os.RemoveAll(c.dir)
	}
}
