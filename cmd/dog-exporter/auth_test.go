package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpenWithoutAuth: the start-up warning is given exactly when anyone
// who can reach the port gets the metrics.
func TestOpenWithoutAuth(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tlsOnly := write("tls.yml", "tls_server_config:\n  cert_file: c\n  key_file: k\n")
	basic := write("basic.yml", "basic_auth_users:\n  prom: $2y$10$x\n")
	mtls := write("mtls.yml", "tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n")
	for _, tc := range []struct {
		addrs  []string
		config string
		open   bool
	}{
		{[]string{":9730"}, "", true},
		{[]string{"0.0.0.0:9730"}, tlsOnly, true},
		{[]string{":9730"}, basic, false},
		{[]string{":9730"}, mtls, false},
		{[]string{"127.0.0.1:9730", "[::1]:9730"}, "", false},
		{[]string{"127.0.0.1:9730", "10.0.0.1:9730"}, "", true},
	} {
		if why := openWithoutAuth(tc.addrs, false, tc.config); (why != "") != tc.open {
			t.Errorf("%v %s: %q, want open=%v", tc.addrs, filepath.Base(tc.config), why, tc.open)
		}
	}
}
