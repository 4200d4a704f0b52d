package alerts

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A Telegram bot token as BotFather prints it: the bot's id, a colon and 35
// characters.
var realToken = regexp.MustCompile(`[0-9]{8,10}:[A-Za-z0-9_-]{35}`)

// TestBotTokenOnlyWhereItBelongs: the rendered Alertmanager config holds
// the token on its bot_token lines and nowhere else; the rules, templates
// and every error the renderer returns hold none of it (an error is what a
// caller logs); and no file of the repository holds a real-looking token.
func TestBotTokenOnlyWhereItBelongs(t *testing.T) {
	const token = "987654321:AAH-secret_Token0123456789abcdefXYZ"
	out, err := AlertmanagerConfig(Config{BotToken: token, ChatID: 42, StatusInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, token) {
			n++
			if strings.TrimSpace(l) != "- bot_token: '"+token+"'" {
				t.Errorf("the token on a line that is not a bot_token: %q", l)
			}
		}
	}
	if n != 2 {
		t.Errorf("the token is on %d lines, want the 2 receivers' bot_token", n)
	}
	for _, bad := range []Config{
		{BotToken: token + " x"},                    // does not look like a token
		{BotToken: token, BotTokenFile: "/etc/tok"}, // both
		{BotToken: token, Language: "fr"},           // another field wrong
		{BotToken: token, StatusInterval: time.Millisecond},
	} {
		_, err := AlertmanagerConfig(bad)
		if err == nil {
			t.Errorf("%+v accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "secret_Token") {
			t.Errorf("an error repeats the token: %v", err)
		}
	}
	rules, err := Rules(1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rules), "bot_token") || realToken.Match(rules) {
		t.Error("the rules mention a bot token")
	}
	for _, f := range TemplateFiles {
		b, err := FS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if realToken.Match(b) || strings.Contains(string(b), "bot_token") {
			t.Errorf("%s mentions a bot token", f)
		}
	}
	// No committed file carries a real token (the placeholders are not).
	filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil
		case d.IsDir() && (d.Name() == ".git" || d.Name() == "bin"):
			return filepath.SkipDir
		case !d.Type().IsRegular():
			return nil
		}
		fi, err := d.Info()
		if err != nil || fi.Size() > 4<<20 {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil || strings.HasSuffix(path, "secret_test.go") {
			return nil
		}
		for _, m := range realToken.FindAll(b, -1) {
			if !strings.Contains(string(m), "REPLACE") { // the placeholder of alertmanager.yml
				t.Errorf("%s holds something that looks like a bot token: %s", path, m)
			}
		}
		return nil
	})
}
