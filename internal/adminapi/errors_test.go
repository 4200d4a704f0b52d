package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/portspec"
)

// TestErrorFormats: every code's English takes strings, its cause last.
func TestErrorFormats(t *testing.T) {
	for _, code := range Codes() {
		f := Format(code)
		if strings.Count(f, "%w") > 1 || strings.Contains(f, "%w") && strings.LastIndex(f, "%") != strings.Index(f, "%w") {
			t.Errorf("%s: %q: the cause (%%w) must be the last verb, once", code, f)
		}
		for i := strings.Index(f, "%"); i >= 0; i = strings.Index(f, "%") {
			if v := f[i+1]; v != 's' && v != 'q' && v != 'w' {
				t.Errorf("%s: %q: %%%c (args are strings)", code, f, v)
			}
			f = f[i+2:]
		}
	}
}

// serve answers every request on a unix socket with status and body.
func serve(t *testing.T, status int, body string) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return NewClient(sock)
}

// TestErrorsOverTheWire: what the enforcer answers is rebuilt by the
// client with its code, args and causes, and its English text as the
// enforcer wrote it.
func TestErrorsOverTheWire(t *testing.T) {
	_, specErr := portspec.Parse("80-20")
	cfgErr := errors.Join(&config.Error{Source: "c.yaml:3", Item: "443", Field: "quota", Msg: "bad"}, &config.Error{Source: "c.yaml:5", Msg: "given twice"})
	for _, sent := range []error{
		NewError(CodeNoSuchItem, nil, "9999"),
		NewError(CodeBadRequest, NewError(CodeNothingToReset, nil)),
		NewError(CodeArchiveConfig, cfgErr),
		errors.Join(NewError(CodeResetPending, errors.New("netlink: busy")), NewError(CodeSaveFailedToo, errors.New("disk full"))),
		// A refused archive, by its parts, its cause too.
		&archive.Error{Entry: archive.ConfigName, Kind: archive.KindConfigInvalid, Err: cfgErr},
		NewError(CodeTooLarge, &archive.Error{Kind: archive.KindRead, Err: errors.New("http: request body too large")}),
		specErr, // no code: its text
	} {
		body, err := json.Marshal(ErrorOf(sent))
		if err != nil {
			t.Fatal(err)
		}
		_, got := serve(t, http.StatusUnprocessableEntity, string(body)).Reset(context.Background(), ResetRequest{All: true})
		if got == nil || got.Error() != sent.Error() {
			t.Errorf("sent %q, got %v", sent, got)
			continue
		}
		if !reflect.DeepEqual(ErrorOf(got), ErrorOf(sent)) {
			t.Errorf("sent %+v\ngot  %+v", ErrorOf(sent), ErrorOf(got))
		}
	}
	var ce *CodedError
	_, err := serve(t, http.StatusConflict, `{"error":"another import is at work; try again when it is done","code":"import_busy"}`).Import(context.Background(), nil, false)
	if !errors.As(err, &ce) || ce.Code != CodeImportBusy {
		t.Errorf("import busy: %#v", err)
	}
	// An enforcer from before codes: its text.
	_, err = serve(t, http.StatusUnprocessableEntity, `{"error":"no item \"9999\" is configured"}`).Reset(context.Background(), ResetRequest{All: true})
	if err == nil || errors.As(err, &ce) || err.Error() != `no item "9999" is configured` {
		t.Errorf("old enforcer: %#v", err)
	}
}

// TestImportNotes: a note's English is its code's format filled with its
// args, and the answer carries both, in the same order.
func TestImportNotes(t *testing.T) {
	var r ImportResponse
	r.AddNote(CodeNoteKeptPath, "state_dir", "/var/lib/port-traffic-dog", "/srv/dog")
	r.AddNote(CodeNoteConfigWarning, "c.yaml:3: it")
	want := []string{"kept this host's state_dir /var/lib/port-traffic-dog (the archive had /srv/dog)", "the archive's config: c.yaml:3: it"}
	if !reflect.DeepEqual(r.Notes, want) || len(r.NoteCodes) != 2 || r.NoteCodes[1].Code != CodeNoteConfigWarning {
		t.Errorf("notes %q, codes %+v", r.Notes, r.NoteCodes)
	}
}
