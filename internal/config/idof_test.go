package config

import (
	"testing"

	"port-traffic-dog/internal/layout"
)

// TestIDOf: every spelling of an item's ports names the one item, "host"
// the whole host, and a bad spec is an error naming it.
func TestIDOf(t *testing.T) {
	if id, err := IDOf(HostPort); err != nil || id != layout.HostID {
		t.Errorf("IDOf(%q) = %q, %v", HostPort, id, err)
	}
	a, err := IDOf("443,80")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := IDOf("80,443"); err != nil || b != a {
		t.Errorf("IDOf(80,443) = %q, %v; IDOf(443,80) = %q", b, err, a)
	}
	if c, _ := IDOf("8080"); c == a {
		t.Errorf("two items share the id %q", a)
	}
	if _, err := IDOf("70000"); err == nil {
		t.Error("IDOf(70000): no error")
	}
}
