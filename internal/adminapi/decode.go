package adminapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"

	"port-traffic-dog/internal/portspec"
)

// HostPorts names the whole-host quota wherever an item's ports are expected.
const HostPorts = "host"

// Bounds of a reset request. A host has at most a few tens of thousands of
// items; a request naming more is not an operator's.
const (
	MaxResetBody  = 1 << 20
	MaxResetItems = 65536
)

// DecodeResetRequest reads and checks the body of POST /v1/reset: exactly
// one JSON object with known fields only, naming items by valid ports specs
// ("host" for the whole-host quota) or all of them, not both. The enforcer
// calls it before it takes its lock, so a hostile or broken request is
// refused without touching anything.
func DecodeResetRequest(body io.Reader) (*ResetRequest, error) {
	data, err := io.ReadAll(io.LimitReader(body, MaxResetBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading the request: %w", err)
	}
	if len(data) > MaxResetBody {
		return nil, fmt.Errorf("request body is larger than %d bytes", MaxResetBody)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var req ResetRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("request body: %w", err)
	}
	// A second value after the object is someone else's request glued on,
	// not something to ignore.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("request body: data after the JSON object")
	}
	if err := req.Validate(); err != nil {
		return nil, err
	}
	return &req, nil
}

// Validate checks what a reset names: items by valid ports specs or all,
// not both, not neither.
func (r *ResetRequest) Validate() error {
	switch {
	case r.All && len(r.Ports) > 0:
		return errors.New("name the items to reset or ask for all of them, not both")
	case !r.All && len(r.Ports) == 0:
		return errors.New("nothing to reset: name items by their ports, or use --all")
	case len(r.Ports) > MaxResetItems:
		return fmt.Errorf("%d items in one reset: at most %d", len(r.Ports), MaxResetItems)
	}
	for i, p := range r.Ports {
		if p == HostPorts {
			continue
		}
		if _, err := portspec.Parse(p); err != nil {
			return fmt.Errorf("ports[%d]: %w", i, err)
		}
	}
	return nil
}

// ParseImportQuery reads the query of POST /v1/import. Only dry_run is
// known, and only "1" (validate, change nothing) or "0"/absent (import):
// anything else is refused rather than guessed, since a misspelt dry run
// must never turn into a real import.
func ParseImportQuery(rawQuery string) (dryRun bool, err error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return false, fmt.Errorf("query %q: %w", rawQuery, err)
	}
	for k := range q {
		if k != "dry_run" {
			return false, fmt.Errorf("query: unknown parameter %q (known: dry_run)", k)
		}
	}
	switch v := q["dry_run"]; {
	case len(v) == 0:
		return false, nil
	case len(v) > 1:
		return false, errors.New("query: dry_run given more than once")
	case v[0] == "1":
		return true, nil
	case v[0] == "0":
		return false, nil
	default:
		return false, fmt.Errorf("query: dry_run=%q: want 1 or 0", v[0])
	}
}

// ParseHistoryQuery reads the query of GET /v1/history: any number of
// ports=SPEC (or ports=host), nothing else.
func ParseHistoryQuery(rawQuery string) ([]string, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", rawQuery, err)
	}
	for k := range q {
		if k != "ports" {
			return nil, fmt.Errorf("query: unknown parameter %q (known: ports)", k)
		}
	}
	ports := q["ports"]
	if len(ports) > MaxResetItems {
		return nil, fmt.Errorf("query: %d ports: at most %d", len(ports), MaxResetItems)
	}
	for i, p := range ports {
		if p == HostPorts {
			continue
		}
		if _, err := portspec.Parse(p); err != nil {
			return nil, fmt.Errorf("ports[%d]: %w", i, err)
		}
	}
	return slices.Clip(ports), nil
}
