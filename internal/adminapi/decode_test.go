package adminapi

import (
	"encoding/json"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"port-traffic-dog/internal/portspec"
)

func TestDecodeResetRequest(t *testing.T) {
	for body, want := range map[string]*ResetRequest{
		`{"ports":["443"]}`:                        {Ports: []string{"443"}},
		`{"ports":["443","5000-5100","host"]} `:    {Ports: []string{"443", "5000-5100", "host"}},
		"{\"all\":true}\n":                         {All: true},
		`{"ports":["80, 443"],"all":false}`:        {Ports: []string{"80, 443"}},
		`{"ports":["1-65535"]}`:                    {Ports: []string{"1-65535"}},
		`  {"all":true}  ` + "\n\t":                {All: true},
		`{"ports":["443"],"all":false,"ports":[]}`: nil, // the last duplicate wins: nothing named
	} {
		got, err := DecodeResetRequest(strings.NewReader(body))
		if want == nil {
			if err == nil {
				t.Errorf("%s: accepted %+v", body, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v, %v; want %+v", body, got, err, want)
		}
	}
	for body, want := range map[string]string{
		``:                                  `request body: EOF`,
		`{`:                                 `unexpected EOF`,
		`[]`:                                `cannot unmarshal array`,
		`null`:                              `nothing to reset`,
		`{}`:                                `nothing to reset`,
		`{"all":true,"ports":["443"]}`:      `not both`,
		`{"all":"yes"}`:                     `cannot unmarshal string`,
		`{"ports":"443"}`:                   `cannot unmarshal string`,
		`{"ports":[443]}`:                   `cannot unmarshal number`,
		`{"ports":["0"]}`:                   `ports[0]: port 0 is outside 1-65535`,
		`{"ports":["443",""]}`:              `ports[1]: empty ports spec`,
		`{"ports":["80,80"]}`:               `overlap`,
		`{"ports":["HOST"]}`:                `ports[0]:`,
		`{"port":["443"]}`:                  `unknown field "port"`,
		`{"all":true}{"all":true}`:          `data after the JSON object`,
		`{"all":true} x`:                    `data after the JSON object`,
		`{"all":true}]`:                     `data after the JSON object`,
		`{"ports":["443"]}` + "\x00":        `data after the JSON object`,
		`{"all":true,"__proto__":1}`:        `unknown field`,
		strings.Repeat(" ", MaxResetBody+1): `larger than`,
	} {
		_, err := DecodeResetRequest(strings.NewReader(body))
		if err == nil || !strings.Contains(err.Error(), want) {
			short := body
			if len(short) > 60 {
				short = short[:60] + "…"
			}
			t.Errorf("%q: %v, want %q", short, err, want)
		}
	}
	many := `{"ports":[` + strings.Repeat(`"1",`, MaxResetItems) + `"1"]}`
	if _, err := DecodeResetRequest(strings.NewReader(many)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("%d items: %v", MaxResetItems+1, err)
	}
}

func TestParseImportQuery(t *testing.T) {
	for q, want := range map[string]bool{"": false, "dry_run=1": true, "dry_run=0": false} {
		if got, err := ParseImportQuery(q); err != nil || got != want {
			t.Errorf("%q: %v, %v", q, got, err)
		}
	}
	// A misspelt dry run must never import for real.
	for _, q := range []string{"dry_run=true", "dry_run=yes", "dry_run=", "dry_run", "dryrun=1", "dry_run=1&dry_run=0",
		"dry_run=1&x=1", "%zz", "dry_run=1;x", "dry_run=%31%31"} {
		if got, err := ParseImportQuery(q); err == nil {
			t.Errorf("%q accepted (dry run %v)", q, got)
		}
	}
}

func TestParseHistoryQuery(t *testing.T) {
	got, err := ParseHistoryQuery("ports=443&ports=host&ports=80%2C81")
	if err != nil || !reflect.DeepEqual(got, []string{"443", "host", "80,81"}) {
		t.Errorf("%v, %v", got, err)
	}
	for _, q := range []string{"port=443", "ports=0", "ports=", "%", "ports=443&all=1"} {
		if _, err := ParseHistoryQuery(q); err == nil {
			t.Errorf("%q accepted", q)
		}
	}
}

// FuzzDecodeResetRequest feeds arbitrary bodies to the reset decoder: it
// never panics, and what it accepts is a request that names only valid
// items (or all) and survives a round trip through the wire format.
func FuzzDecodeResetRequest(f *testing.F) {
	for _, s := range []string{`{"ports":["443"]}`, `{"all":true}`, `{"ports":["host","5000-5100","80, 443"]}`,
		`{"ports":["443"]}{}`, `{"ports":null,"all":true}`, `{"ports":["\u0034\u0034\u0033"]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeResetRequest(strings.NewReader(string(body)))
		if err != nil {
			if req != nil {
				t.Fatalf("error %v with a request %+v", err, req)
			}
			return
		}
		if req.All == (len(req.Ports) > 0) {
			t.Fatalf("accepted %q: all=%v with %d ports", body, req.All, len(req.Ports))
		}
		for _, p := range req.Ports {
			if _, err := portspec.Parse(p); err != nil && p != HostPorts {
				t.Fatalf("accepted %q with ports %q: %v", body, p, err)
			}
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeResetRequest(strings.NewReader(string(again)))
		if err != nil || back.All != req.All || !reflect.DeepEqual(back.Ports, req.Ports) {
			t.Fatalf("round trip of %q: %+v, %v", body, back, err)
		}
	})
}

// FuzzParseAdminQuery feeds arbitrary query strings to the import and
// history query parsers: no panic; a dry run only for exactly dry_run=1.
func FuzzParseAdminQuery(f *testing.F) {
	for _, s := range []string{"", "dry_run=1", "dry_run=0", "dry_run=true", "ports=443&ports=host", "ports=80%2C443", "%", "a=b;c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		dry, err := ParseImportQuery(q)
		if err == nil && dry {
			if v, _ := url.ParseQuery(q); len(v) != 1 || len(v["dry_run"]) != 1 || v["dry_run"][0] != "1" {
				t.Fatalf("dry run from %q", q)
			}
		}
		ports, err := ParseHistoryQuery(q)
		if err != nil {
			return
		}
		for _, p := range ports {
			if _, err := portspec.Parse(p); err != nil && p != HostPorts {
				t.Fatalf("history query %q accepted ports %q", q, p)
			}
		}
	})
}
