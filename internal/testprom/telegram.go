package testprom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// TelegramMessage is one sendMessage call the fake Bot API received.
type TelegramMessage struct {
	Token     string // from the URL path /bot<token>/sendMessage
	ChatID    string
	Text      string
	ParseMode string
	// Rejected holds the reason the fake answered 400, as Telegram would
	// have; empty for an accepted message.
	Rejected string
}

// FakeTelegram is an httptest server speaking enough of the Telegram Bot API
// for Alertmanager's telegram_configs (telebot): POST /bot<token>/sendMessage
// with a JSON or form body, answered with a Telegram-shaped Message. Like
// Telegram, it refuses (400) HTML that does not parse or text longer than
// 4096 characters, and records those calls too, so a test sees both what
// was sent and that it would have been delivered.
type FakeTelegram struct {
	URL string

	srv     *httptest.Server
	mu      sync.Mutex
	msgs    []TelegramMessage
	changed chan struct{}
	nextID  int
	token   string         // the only token accepted; "" accepts any
	chats   map[int64]bool // the chats that exist; nil: every numeric id
}

// SetToken makes the fake answer 401 Unauthorized, as Telegram does, to
// every call with another token; "" accepts any token again.
func (f *FakeTelegram) SetToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
}

// SetChats makes only these chat ids exist: getChat and sendMessage for
// another one answer 400 "chat not found". No ids: every numeric id exists.
func (f *FakeTelegram) SetChats(ids ...int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.chats = nil
	if len(ids) > 0 {
		f.chats = map[int64]bool{}
		for _, id := range ids {
			f.chats[id] = true
		}
	}
}

// Stop closes the listener: from then on the Bot API is unreachable.
func (f *FakeTelegram) Stop() { f.srv.Close() }

// access says how Telegram would answer a call with token for chat (nil
// when there is no chat parameter): 0 when allowed, else the error.
func (f *FakeTelegram) access(token string, chat *int64) (int, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != "" && token != f.token {
		return http.StatusUnauthorized, "Unauthorized"
	}
	if chat != nil && f.chats != nil && !f.chats[*chat] {
		return http.StatusBadRequest, "Bad Request: chat not found"
	}
	return 0, ""
}

// NewFakeTelegram starts the fake on a loopback port; it stops in t.Cleanup.
func NewFakeTelegram(t testing.TB) *FakeTelegram {
	t.Helper()
	f := &FakeTelegram{changed: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

func (f *FakeTelegram) serve(w http.ResponseWriter, r *http.Request) {
	token, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	if !ok || !strings.HasPrefix(r.URL.Path, "/bot") || (r.Method != http.MethodPost && r.Method != http.MethodGet) {
		writeTelegramError(w, http.StatusNotFound, "Not Found")
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeTelegramError(w, http.StatusBadRequest, "Bad Request: "+err.Error())
		return
	}
	switch method {
	case "getMe", "getChat":
		f.serveGet(w, token, method, params)
		return
	case "sendMessage":
	default:
		writeTelegramError(w, http.StatusBadRequest, "Bad Request: method "+method+" is not faked")
		return
	}
	m := TelegramMessage{Token: token, ChatID: params["chat_id"], Text: params["text"], ParseMode: params["parse_mode"]}
	chatID, err := strconv.ParseInt(m.ChatID, 10, 64)
	code, denied := f.access(token, &chatID)
	switch {
	case err != nil:
		m.Rejected = "Bad Request: chat not found"
	case code == http.StatusUnauthorized:
		m.Rejected = denied
	case code != 0:
		m.Rejected = denied
	case m.Text == "":
		m.Rejected = "Bad Request: message text is empty"
	case m.ParseMode == "HTML":
		if err := CheckTelegramHTML(m.Text); err != nil {
			m.Rejected = "Bad Request: can't parse entities: " + err.Error()
		}
	case len(utf16.Encode([]rune(m.Text))) > TelegramMaxChars:
		m.Rejected = "Bad Request: message is too long"
	}

	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	f.nextID++
	id := f.nextID
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()

	if m.Rejected != "" {
		if code == 0 {
			code = http.StatusBadRequest
		}
		writeTelegramError(w, code, m.Rejected)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ok": true,
		"result": map[string]any{
			"message_id": id,
			"date":       time.Now().Unix(),
			"chat":       map[string]any{"id": chatID, "type": "group", "title": "fake"},
			"text":       m.Text,
		},
	})
}

// serveGet answers getMe and getChat, which `dog notify test` uses.
func (f *FakeTelegram) serveGet(w http.ResponseWriter, token, method string, params map[string]string) {
	var chat *int64
	if method == "getChat" {
		id, err := strconv.ParseInt(params["chat_id"], 10, 64)
		if err != nil {
			writeTelegramError(w, http.StatusBadRequest, "Bad Request: chat not found")
			return
		}
		chat = &id
	}
	if code, desc := f.access(token, chat); code != 0 {
		writeTelegramError(w, code, desc)
		return
	}
	result := map[string]any{"id": 1, "is_bot": true, "first_name": "Fake", "username": "fake_dog_bot"}
	if chat != nil {
		result = map[string]any{"id": *chat, "type": "group", "title": "fake group"}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": result})
}

func readParams(r *http.Request) (map[string]string, error) {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if ct == "application/json" {
		// telebot sends every parameter as a JSON string, but be lenient.
		var raw map[string]any
		if err := json.Unmarshal(body, &raw); err != nil {
			return nil, err
		}
		for k, v := range raw {
			switch v := v.(type) {
			case string:
				out[k] = v
			case float64:
				out[k] = strconv.FormatFloat(v, 'f', -1, 64)
			default:
				b, _ := json.Marshal(v)
				out[k] = string(b)
			}
		}
		return out, nil
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, err
	}
	for k := range vals {
		out[k] = vals.Get(k)
	}
	for k := range r.URL.Query() {
		out[k] = r.URL.Query().Get(k)
	}
	return out, nil
}

func writeTelegramError(w http.ResponseWriter, code int, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": false, "error_code": code, "description": desc})
}

// Messages returns every sendMessage call so far, in arrival order.
func (f *FakeTelegram) Messages() []TelegramMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TelegramMessage(nil), f.msgs...)
}

// WaitFor returns the first message (in arrival order) for which match is
// true, waiting for new ones until ctx ends.
func (f *FakeTelegram) WaitFor(ctx context.Context, match func(TelegramMessage) bool) (TelegramMessage, error) {
	for {
		f.mu.Lock()
		msgs, changed := f.msgs, f.changed
		f.mu.Unlock()
		for _, m := range msgs {
			if match(m) {
				return m, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return TelegramMessage{}, fmt.Errorf("no matching Telegram message among %d received: %w", len(msgs), ctx.Err())
		}
	}
}

// TelegramMaxChars is the Bot API's limit on a message's text after entity
// parsing (https://core.telegram.org/bots/api#sendmessage). Telegram counts
// UTF-16 code units, so an emoji outside the BMP counts twice.
const TelegramMaxChars = 4096

// telegramTags are the HTML tags the Bot API's HTML parse mode accepts that
// our templates may use (https://core.telegram.org/bots/api#html-style).
var telegramTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "s": true,
	"code": true, "pre": true, "a": true,
}

// CheckTelegramHTML reports why Telegram would refuse text sent with
// parse_mode HTML, or nil: only the allowed tags, properly nested and
// closed; every '<', '>' and '&' outside a tag written as an entity (only
// &lt; &gt; &amp; &quot; and numeric ones exist for Telegram); valid UTF-8;
// at most 4096 UTF-16 code units once entities are decoded and tags removed.
func CheckTelegramHTML(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("text is not valid UTF-8")
	}
	var stack []string
	chars := 0
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '<':
			start := i
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				return fmt.Errorf("unclosed tag at byte %d", i)
			}
			tag := s[i+1 : i+end]
			i += end + 1
			closing := strings.HasPrefix(tag, "/")
			tag = strings.TrimPrefix(tag, "/")
			name, attrs, _ := strings.Cut(tag, " ")
			if !telegramTags[name] {
				return fmt.Errorf("unsupported tag %q at byte %d", name, start)
			}
			if closing {
				if attrs != "" {
					return fmt.Errorf("attributes on end tag </%s>", tag)
				}
				if len(stack) == 0 || stack[len(stack)-1] != name {
					return fmt.Errorf("end tag </%s> does not match the open tags %v", name, stack)
				}
				stack = stack[:len(stack)-1]
				continue
			}
			if attrs != "" && !(name == "a" && strings.HasPrefix(attrs, `href="`) && strings.HasSuffix(attrs, `"`)) {
				return fmt.Errorf("unexpected attributes %q on <%s>", attrs, name)
			}
			stack = append(stack, name)
		case '>':
			return fmt.Errorf("bare '>' at byte %d", i)
		case '&':
			n := entityLen(s[i:])
			if n == 0 {
				return fmt.Errorf("bare '&' or unknown entity at byte %d: %.12q", i, s[i:])
			}
			chars += utf16.RuneLen([]rune(decodeEntity(s[i+1 : i+n-1]))[0])
			i += n
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			chars += utf16.RuneLen(r)
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed tags %v", stack)
	}
	if chars > TelegramMaxChars {
		return fmt.Errorf("message is too long: %d characters, Telegram allows %d", chars, TelegramMaxChars)
	}
	return nil
}

// entityLen is the length of the entity at the start of s, 0 if there is
// none Telegram knows.
func entityLen(s string) int {
	semi := strings.IndexByte(s, ';')
	if semi < 2 || semi > 10 {
		return 0
	}
	body := s[1:semi]
	switch body {
	case "lt", "gt", "amp", "quot":
		return semi + 1
	}
	if !strings.HasPrefix(body, "#") {
		return 0
	}
	num, base := body[1:], 10
	if strings.HasPrefix(num, "x") || strings.HasPrefix(num, "X") {
		num, base = num[1:], 16
	}
	v, err := strconv.ParseUint(num, base, 32)
	if err != nil || v == 0 || v > utf8.MaxRune {
		return 0
	}
	return semi + 1
}

// TelegramText returns the text a Telegram user sees for an HTML message:
// tags removed, entities decoded. Tests match content against it, so they
// need not know how the escaper spelled a quote.
func TelegramText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch s[i] {
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			i += end + 1
		case '&':
			n := entityLen(s[i:])
			if n == 0 {
				b.WriteByte('&')
				i++
				continue
			}
			b.WriteString(decodeEntity(s[i+1 : i+n-1]))
			i += n
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

func decodeEntity(body string) string {
	switch body {
	case "lt":
		return "<"
	case "gt":
		return ">"
	case "amp":
		return "&"
	case "quot":
		return `"`
	}
	num, base := body[1:], 10
	if strings.HasPrefix(num, "x") || strings.HasPrefix(num, "X") {
		num, base = num[1:], 16
	}
	v, _ := strconv.ParseUint(num, base, 32)
	return string(rune(v))
}
