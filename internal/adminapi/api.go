// Package adminapi is the enforcer's admin API: HTTP over a unix socket,
// root (or a configured group) only. The types here are the wire format
// shared by the enforcer and the dog CLI; Client is what the CLI uses.
package adminapi

import (
	"time"

	"port-traffic-dog/internal/config"
	"port-traffic-dog/internal/state"
)

// Paths of the API.
const (
	PathStatus     = "/v1/status"
	PathReset      = "/v1/reset"
	PathHistory    = "/v1/history"
	PathReload     = "/v1/reload"
	PathCheckpoint = "/v1/checkpoint"
	PathImport     = "/v1/import"
)

// ErrImportBusy: another import (or dry run) is at work (409 Conflict).
var ErrImportBusy = NewError(CodeImportBusy, nil)

// MaxRequestBody bounds what the server reads of a request.
const MaxRequestBody = 64 << 20

// Item is one item as the status shows it: configuration, live counters and
// billing period.
type Item struct {
	Ports     string    `json:"ports"`
	ID        string    `json:"id"`
	Remark    string    `json:"remark,omitempty"`
	Protocols string    `json:"protocols"`
	Billing   string    `json:"billing"`
	Quota     uint64    `json:"quota,omitempty"`
	ResetDay  int       `json:"reset_day"`
	Expires   time.Time `json:"expires,omitzero"`
	RateIn    uint64    `json:"rate_in,omitempty"`
	RateOut   uint64    `json:"rate_out,omitempty"`

	In        state.Counter `json:"in"`
	Out       state.Counter `json:"out"`
	PeriodIn  uint64        `json:"period_in"`
	PeriodOut uint64        `json:"period_out"`
	Billable  uint64        `json:"billable"`

	PeriodStart time.Time `json:"period_start"`
	NextReset   time.Time `json:"next_reset,omitzero"`
	// Blocked is "", "quota" or "expired".
	Blocked string `json:"blocked,omitempty"`
}

// ItemOf is the status of a state item. expired says whether the item is
// blocked for its expiry (the enforcer says what it applied; a reader of
// the checkpoint, what the clock says); a quota block is the state's.
func ItemOf(it *state.Item, expired bool) Item {
	pin, pout := it.PeriodIn().Bytes, it.PeriodOut().Bytes
	out := Item{Ports: it.Ports, ID: it.ID, Remark: it.Remark, Protocols: it.Protocols, Billing: it.Billing,
		Quota: it.Quota, ResetDay: it.ResetDay, Expires: it.Expires, RateIn: it.RateIn, RateOut: it.RateOut,
		In: it.In, Out: it.Out, PeriodIn: pin, PeriodOut: pout, Billable: config.Billing(it.Billing).Billable(pin, pout),
		PeriodStart: it.PeriodStart, NextReset: it.NextReset}
	switch {
	case it.QuotaBlocked:
		out.Blocked = "quota"
	case expired:
		out.Blocked = "expired"
	}
	return out
}

// Status is the answer of GET /v1/status.
type Status struct {
	Version  string    `json:"version"`
	Time     time.Time `json:"time"`
	Timezone string    `json:"timezone"`
	Config   string    `json:"config,omitempty"`
	Host     Item      `json:"host"`
	Items    []Item    `json:"items"`
	// LastCheckpoint and the counters below tell the enforcer's health.
	LastCheckpoint time.Time   `json:"last_checkpoint,omitzero"`
	Stats          state.Stats `json:"stats"`
}

// ResetRequest is the body of POST /v1/reset: items by ports spec (any
// spelling of an item's spec works), or all of them.
type ResetRequest struct {
	Ports []string `json:"ports,omitempty"`
	All   bool     `json:"all,omitempty"`
}

// ResetResponse lists the history entries the reset wrote.
type ResetResponse struct {
	Resets []state.Reset `json:"resets"`
	// Timezone is the enforcer's time zone (as Status.Timezone), in
	// which dog shows the times; an older enforcer leaves it out, and dog
	// then uses its own.
	Timezone string `json:"timezone,omitempty"`
}

// HistoryResponse is the answer of GET /v1/history[?ports=…].
type HistoryResponse struct {
	Resets   []state.Reset `json:"resets"`
	Timezone string        `json:"timezone,omitempty"` // as ResetResponse's
}

// CheckpointResponse is the answer of POST /v1/checkpoint: the state just
// written, with fresh kernel counters (what an export archives).
type CheckpointResponse struct {
	State *state.State `json:"state"`
}

// Error is the body of every non-2xx answer (ErrorOf).
type Error struct {
	// Error is the message, in English.
	Error string `json:"error"`
	// Code is its kind, if it has a known one (errors.go), and Args the
	// values it names.
	Code Code     `json:"code,omitempty"`
	Args []string `json:"args,omitempty"`
	// Causes are what it wraps: its cause, or the errors it joins.
	Causes []Error `json:"causes,omitempty"`
}
