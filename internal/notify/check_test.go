package notify

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"port-traffic-dog/internal/testprom"
)

// TestCheckBotAPI: getMe and getChat against the fake Bot API say in words
// what is wrong, and never repeat the token.
func TestCheckBotAPI(t *testing.T) {
	ctx := context.Background()
	m := MessagesFor("en")
	tg := testprom.NewFakeTelegram(t)
	ok, err := CheckBotAPI(ctx, m, tg.URL, testToken, 42)
	if err != nil || !strings.Contains(ok, "@fake_dog_bot can reach chat 42") {
		t.Errorf("good token: %q %v", ok, err)
	}
	check := func(what, want string) {
		t.Helper()
		_, err := CheckBotAPI(ctx, m, tg.URL, testToken, 42)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", what, err, want)
		} else if strings.Contains(err.Error(), "secret_Token") {
			t.Errorf("%s: the error holds the token: %v", what, err)
		}
	}
	tg.SetToken("1:other")
	check("bad token", "the bot token is wrong: Telegram answered 401")
	tg.SetToken("")
	tg.SetChats(7)
	check("unknown chat", "chat 42 not found for bot @fake_dog_bot")
	tg.Stop()
	check("no API", "cannot reach the Telegram Bot API at "+tg.URL)
}

// TestNotifyTest runs dog notify test's two checks against Debian's real
// Alertmanager, set up by dog notify telegram, and the fake Bot API: it
// succeeds and the message arrives in the chosen language; with a bad
// token, an unknown chat or no API both checks fail and say why.
func TestNotifyTest(t *testing.T) {
	h := newHost(t)
	tg := testprom.NewFakeTelegram(t)
	tg.SetToken(testToken)
	addr := testprom.FreeAddr(t)
	if err := h.telegram(TelegramOptions{ChatID: "42", Token: testToken, ServerName: "edge-1", Language: "zh", APIURL: tg.URL, AlertmanagerAddr: addr}); err != nil {
		t.Fatal(err)
	}
	testprom.StartAlertmanagerFile(t, h.paths.AlertmanagerConfig, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func() (string, error) {
		h.out.Reset()
		err := Test(ctx, h.env(), ClientOptions{Paths: h.paths, Timeout: 20 * time.Second})
		return h.out.String(), err
	}
	out, err := run()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"✓ bot @fake_dog_bot can reach chat 42", "✓ Alertmanager delivered to telegram", "OK"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	msg, err := tg.WaitFor(ctx, func(m testprom.TelegramMessage) bool { return m.Rejected == "" })
	if err != nil {
		t.Fatal(err)
	}
	if text := testprom.TelegramText(msg.Text); !strings.Contains(text, "测试消息 · edge-1") || !strings.Contains(text, "来自 edge-1 的端口流量狗测试消息") {
		t.Errorf("test message:\n%s", text)
	}

	// E-mail beside Telegram: with no SMTP server, Telegram still gets the
	// message and the e-mail failure is reported from email's counters.
	amURL := "http://" + addr
	reloadAM := func() {
		t.Helper()
		resp, err := http.Post(amURL+"/-/reload", "", nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("reload: %v %v", err, resp)
		}
		resp.Body.Close()
	}
	if err := Email(ctx, h.env(), EmailOptions{Paths: h.paths, Smarthost: testprom.FreeAddr(t), From: "dog@example.com", To: "ops@example.com"}); err != nil {
		t.Fatal(err)
	}
	reloadAM()
	out, err = run()
	if err == nil || !strings.Contains(out, "✓ Alertmanager delivered to telegram") || !strings.Contains(out, "to send to email") {
		t.Errorf("e-mail without a server: %v\n%s", err, out)
	}
	if err := Email(ctx, h.env(), EmailOptions{Paths: h.paths, Off: true}); err != nil {
		t.Fatal(err)
	}
	reloadAM()

	for _, c := range []struct {
		name  string
		setup func()
		want  []string
	}{
		{"bad token", func() { tg.SetToken("1:other") }, []string{"the bot token is wrong", "Alertmanager failed", "to send to telegram"}},
		{"unknown chat", func() { tg.SetToken(testToken); tg.SetChats(7) }, []string{"chat 42 not found", "Alertmanager failed"}},
		{"no API", func() { tg.Stop() }, []string{"cannot reach the Telegram Bot API", "Alertmanager failed"}},
	} {
		c.setup()
		out, err := run()
		if err == nil || !strings.Contains(err.Error(), "test failed") {
			t.Errorf("%s: error %v\n%s", c.name, err, out)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, out)
			}
		}
		if strings.Contains(out, "secret_Token") {
			t.Errorf("%s: the token is in the output", c.name)
		}
	}
}

// TestEndlessAnswersAreBounded: whoever answers on Alertmanager's or
// Prometheus' address (a local user who binds 9093 or 9090 while the
// service is down) cannot feed dog notify test or report without end: the
// answer is cut at MaxAnswer, with an error that says so, long before the
// client's timeout. Before, dog read until the timeout, keeping every
// series or alert it was sent.
func TestEndlessAnswersAreBounded(t *testing.T) {
	endless := func(head, unit string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, head)
			chunk := strings.Repeat(unit, 64<<10/len(unit))
			for r.Context().Err() == nil {
				if _, err := io.WriteString(w, chunk); err != nil {
					return
				}
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", endless("", "# a comment the parser drops\n"))
	mux.HandleFunc("/api/v1/alerts", endless(`{"status":"success","data":{"alerts":[`,
		`{"labels":{"alertname":"DogStatusReport"},"annotations":{},"state":"pending"},`))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	for name, read := range map[string]func(context.Context) error{
		"Alertmanager /metrics": func(ctx context.Context) error { _, err := readDeliveries(ctx, srv.URL); return err },
		"Prometheus alerts":     func(ctx context.Context) error { _, err := firingReports(ctx, srv.URL); return err },
	} {
		start := time.Now()
		err := read(context.Background())
		took := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "larger than 32 MiB") {
			t.Errorf("%s: %v after %s, want the answer refused as larger than 32 MiB", name, err, took.Round(time.Millisecond))
		}
	}
}
