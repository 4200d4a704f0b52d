package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNotifyNegativeChatID: a group's or channel's chat id is negative,
// and "--chat-id -1001234567890" is how the README and the getUpdates
// answer spell it; it must reach the setup (here: which stops at the
// missing prometheus.yml), not fail to parse as a short flag.
func TestNotifyNegativeChatID(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("1234567:AAH-test_Token0123456789abcdefXYZ\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	paths := []string{"--token-file", token, "--prometheus-config", filepath.Join(dir, "prometheus.yml"),
		"--alertmanager-config", filepath.Join(dir, "alertmanager.yml")}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--chat-id", "-1001234567890"}, 1, "prometheus.yml does not exist"},
		{[]string{"--chat-id=-1001234567890"}, 1, "prometheus.yml does not exist"},
		{[]string{"--chat-id", "-x"}, 2, `expected string value but got "-x"`},
		{[]string{"--chat-id", "--force"}, 2, `expected string value but got "--force"`},
	} {
		var out, errb bytes.Buffer
		args := append(append([]string{"--lang", "en", "notify", "telegram"}, c.args...), paths...)
		code := Main(args, Env{Out: &out, Err: &errb, Now: time.Now, Ctx: context.Background()})
		if code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("dog notify telegram %v: exit %d, %q; want exit %d, %q", c.args, code, errb.String(), c.code, c.want)
		}
	}
}
