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

// TestNotifyWarnsZone: Prometheus writes the messages' dates in its host's
// zone; when the config bills in another (a UTC VPS billing in
// Asia/Shanghai), dog notify says so, in both languages, and not when the
// zones agree.
func TestNotifyWarnsZone(t *testing.T) {
	saved := time.Local
	time.Local = time.UTC // the host's zone, as Prometheus sees it
	t.Cleanup(func() { time.Local = saved })
	dir := t.TempDir()
	prom := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(prom, []byte("global: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	status := func(lang, zone string) string {
		t.Helper()
		cfg := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(cfg, []byte("timezone: "+zone+"\nports:\n  - ports: \"443\"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		Main([]string{"--lang", lang, "--socket", filepath.Join(dir, "none.sock"), "--config", cfg, "notify", "status",
			"--prometheus-config", prom, "--alertmanager-config", filepath.Join(dir, "alertmanager.yml")},
			Env{Out: &out, Err: &errb, Now: func() time.Time { return fixedNow }, Ctx: context.Background()})
		return errb.String()
	}
	for lang, want := range map[string]string{
		"en": "warning: resets and expiry follow time zone Asia/Shanghai (UTC+08:00), but this host's clock is UTC+00:00",
		"zh": "警告：重置和到期按时区 Asia/Shanghai（UTC+08:00）计算，但本机时钟是 UTC+00:00",
	} {
		if got := status(lang, "Asia/Shanghai"); !strings.Contains(got, want) || !strings.Contains(got, "timedatectl set-timezone Asia/Shanghai") {
			t.Errorf("%s: no warning of the zones:\n%s", lang, got)
		}
	}
	for _, zone := range []string{"UTC", "Local", "Etc/UTC"} {
		if got := status("en", zone); strings.Contains(got, "time zone") {
			t.Errorf("timezone %s on a UTC host: %s", zone, got)
		}
	}
}
