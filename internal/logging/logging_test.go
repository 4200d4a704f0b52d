package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestFlags: the flags' values choose promslog's level and format; what
// promslog adds (source location, durations as Go durations) is there.
func TestFlags(t *testing.T) {
	var b bytes.Buffer
	log, err := Flags{Level: "warn", Format: "logfmt"}.New(&b)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "took", 1500*time.Millisecond)
	out := b.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, "level=WARN") || !strings.Contains(out, "took=1.5s") ||
		!strings.Contains(out, "source=logging_test.go:") {
		t.Errorf("logfmt at warn:\n%s", out)
	}

	b.Reset()
	log, err = Flags{Level: "debug", Format: "json"}.New(&b)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("detail", "port", 443)
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil || rec["msg"] != "detail" || rec["port"] != 443.0 {
		t.Errorf("json at debug: %q (%v)", b.String(), err)
	}

	for _, bad := range []Flags{{Level: "verbose", Format: "logfmt"}, {Level: "info", Format: "xml"}} {
		if _, err := bad.New(&b); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
