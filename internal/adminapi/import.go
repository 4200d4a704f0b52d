package adminapi

import (
	"context"
	"net/http"
	"time"

	"port-traffic-dog/internal/state"
)

// ImportResponse is the answer of POST /v1/import[?dry_run=1], whose body
// is a `dog export` archive (tar.gz) as it is.
type ImportResponse struct {
	DryRun bool `json:"dry_run,omitempty"`
	// SourceHost, Exported and SourceVersion come from the archive's manifest.
	SourceHost     string    `json:"source_host"`
	Exported       time.Time `json:"exported"`
	SourceVersion  string    `json:"source_version"`
	Items          int       `json:"items"`
	HistoryEntries int       `json:"history_entries"`
	// Resets are billing periods that ended between the export and the
	// import, reset by the import as they would have been on the old host.
	Resets []state.Reset `json:"resets,omitempty"`
	// Notes say what the import adjusted (host-local paths kept), in
	// English; NoteCodes are the same notes, in the same order, by their
	// codes (AddNote), for a client that says them in its own language.
	Notes     []string `json:"notes,omitempty"`
	NoteCodes []Note   `json:"note_codes,omitempty"`
}

// AddNote adds the note of code naming args.
func (r *ImportResponse) AddNote(code Code, args ...string) {
	n := Note{Code: code, Args: args}
	r.Notes = append(r.Notes, n.Text())
	r.NoteCodes = append(r.NoteCodes, n)
}

// Import sends an export archive to the enforcer, which validates it again
// and, unless dryRun, replaces its configuration, state and kernel counters
// with the archive's in one step (or changes nothing).
func (c *Client) Import(ctx context.Context, archive []byte, dryRun bool) (*ImportResponse, error) {
	path := PathImport
	if dryRun {
		path += "?dry_run=1"
	}
	var r ImportResponse
	return &r, c.do(ctx, http.MethodPost, path, archive, &r)
}
