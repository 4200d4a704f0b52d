package adminapi

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/config"
)

// Code names a kind of error the admin API answers with. The error's
// English text stays in Error.Error, all an old client reads; its code
// and the values its text names (Error.Args) let a client say it in its
// own words: dog says them in Chinese. Codes are part of the API: add
// new ones, never rename or reuse one.
type Code string

// The codes and, in errorFormats, their English.
const (
	CodeBadRequest     Code = "bad_request"
	CodeTooLarge       Code = "too_large"
	CodeForbiddenRoot  Code = "forbidden_root"
	CodeForbiddenGroup Code = "forbidden_group"
	CodeRootOnly       Code = "root_only"
	CodeImportBusy     Code = "import_busy"

	CodeNoSuchItem     Code = "no_such_item"
	CodeInItem         Code = "in_item"
	CodeNothingToReset Code = "nothing_to_reset"
	CodeResetPending   Code = "reset_pending"
	CodeResetNotSaved  Code = "reset_not_saved"
	CodeSaveFailedToo  Code = "save_failed_too"

	CodeReloadPending    Code = "reload_pending"
	CodeConfigNotApplied Code = "config_not_applied"

	CodeNoConfigFile    Code = "no_config_file"
	CodeArchiveConfig   Code = "archive_config"
	CodeArchivePaths    Code = "archive_paths"
	CodeKeepLocal       Code = "keep_local"
	CodeImportFailed    Code = "import_failed"
	CodeImportNotUndone Code = "import_not_undone"
	CodeWriteConfig     Code = "write_config"
	CodeUndoTable       Code = "undo_table"
	CodeUndoHistory     Code = "undo_history"
	CodeUndoConfig      Code = "undo_config"

	// CodeReadCounters to CodeBandwidthLimits: what a change met in the
	// kernel or on disk; the cause is the kernel's, the shaper's or the
	// file system's detail.
	CodeReadCounters    Code = "read_counters"
	CodeCheckpoint      Code = "checkpoint"
	CodeNftables        Code = "nftables"
	CodeBandwidthLimits Code = "bandwidth_limits"

	// CodeNoteKeptPath and CodeNoteConfigWarning are notes
	// (ImportResponse.NoteCodes), not errors.
	CodeNoteKeptPath      Code = "note_kept_path"
	CodeNoteConfigWarning Code = "note_config_warning"
	CodeNoteHistoryKnown  Code = "note_history_known"
	CodeNoteLimitsHere    Code = "note_limits_here"

	// CodeConfig is one problem of a configuration (a config.Error):
	// its Args are the problem's Source, Item, Field and Msg, and its
	// English that of config.Error.
	CodeConfig Code = "config"
	// CodeArchive is why an archive was refused (an archive.Error): its
	// Args are the error's Entry, Kind and Args, its cause the error's,
	// and its English that of archive.Error.
	CodeArchive Code = "archive"
)

// formats are the English of the codes but CodeConfig and CodeArchive:
// an error's (or a note's) Args fill the verbs in order (all strings),
// its cause, when it has one, the last (%w).
var formats = map[Code]string{
	CodeBadRequest:     "bad request: %w",
	CodeTooLarge:       "import: reading the archive: %w",
	CodeForbiddenRoot:  "permission denied: the admin API is for root only; you are uid %s",
	CodeForbiddenGroup: "permission denied: the admin API is for root and members of group %s (gid %s); you are uid %s",
	CodeRootOnly:       "permission denied: %s %s replaces the configuration, which only root may change; you are uid %s (run it as root)",
	CodeImportBusy:     "another import is at work; try again when it is done",

	CodeNoSuchItem:     "no item %q is configured",
	CodeInItem:         "no item %q is configured; port %s belongs to item %q (name an item by all its ports)",
	CodeNothingToReset: "nothing to reset: name items by their ports, or use --all",
	CodeResetPending:   "the reset accepted, but the kernel did not take it yet (%w); the enforcer retries until it does (metric port_traffic_dog_enforcer_synced), do not repeat it",
	CodeResetNotSaved:  "the reset is in force in the kernel, but saving it failed (retried at every checkpoint): %w",
	CodeSaveFailedToo:  "saving it failed too (retried at every checkpoint): %w",

	CodeReloadPending:    "configuration accepted, but the kernel did not take it yet (%w); the enforcer retries until it does (metric port_traffic_dog_enforcer_synced), do not repeat it",
	CodeConfigNotApplied: "config not applied, nothing changed: %w",

	CodeNoConfigFile:    "this enforcer runs without a config file (--port flags only), so it cannot take the archive's configuration: start it with --config.file",
	CodeArchiveConfig:   "the archive's configuration does not fit this enforcer: %w",
	CodeArchivePaths:    "the archive's configuration would move state_dir to %q and admin_socket to %q (this host: %q, %q); refused, nothing changed",
	CodeKeepLocal:       "keeping this host's %s in the archive's configuration: %w (nothing changed)",
	CodeImportFailed:    "import failed, nothing changed: %w",
	CodeImportNotUndone: "import failed and could not be fully undone: %w",
	CodeWriteConfig:     "write the config file: %w",
	CodeUndoTable:       "undo: restoring the table (retried): %w",
	CodeUndoHistory:     "undo: history: %w",
	CodeUndoConfig:      "undo: config file: %w",

	CodeReadCounters:    "read counters: %w",
	CodeCheckpoint:      "checkpoint: %w",
	CodeNftables:        "nftables: %w",
	CodeBandwidthLimits: "bandwidth limits: %w",

	CodeNoteKeptPath: "kept this host's %s %s (the archive had %s)",
	// The arg is the warning, a message of internal/config.
	CodeNoteConfigWarning: "the archive's config: %s",
	CodeNoteLimitsHere:    "the archive's bandwidth limits cannot apply on this host (%s); counting and quotas are not affected: after the import, fix `interfaces` or the rates in the config",
	CodeNoteHistoryKnown:  "%s of the archive's history entries are in this host's history already (an archive of this host, or one imported before): not added again",
}

// Codes lists the codes that have a format.
func Codes() []Code { return slices.Sorted(maps.Keys(formats)) }

// Format is the English of code ("" for a code unknown here).
func Format(code Code) string { return formats[code] }

// CodedError is an error of a known kind: made by the enforcer, and
// rebuilt by the client from the API's answer.
type CodedError struct {
	Code Code
	Args []string
	Err  error // the cause, or nil
	msg  string
}

func (e *CodedError) Error() string { return e.msg }
func (e *CodedError) Unwrap() error { return e.Err }

// NewError is the error of code naming args, caused by cause (nil: none).
func NewError(code Code, cause error, args ...string) *CodedError {
	a := make([]any, 0, len(args)+1)
	for _, s := range args {
		a = append(a, s)
	}
	if cause != nil {
		a = append(a, cause)
	}
	return &CodedError{Code: code, Args: args, Err: cause, msg: fmt.Errorf(formats[code], a...).Error()}
}

// ErrorOf is err as the API answers it: a CodedError with its code, args
// and cause, a configuration problem or a refused archive with its parts
// (rebuilt by a client as a CodedError), joined errors with
// each of them; any other error is its text alone.
func ErrorOf(err error) Error {
	out := Error{Error: err.Error()}
	// The error itself, not one it wraps: a wrapping error's own words
	// would be lost.
	switch e := err.(type) { //nolint:errorlint // as above
	case *CodedError:
		out.Code, out.Args = e.Code, e.Args
		if e.Err != nil {
			out.Causes = []Error{ErrorOf(e.Err)}
		}
	case *config.Error:
		out.Code, out.Args = CodeConfig, []string{e.Source, e.Item, e.Field, e.Msg}
	case *archive.Error:
		out.Code, out.Args = CodeArchive, append([]string{e.Entry, string(e.Kind)}, e.Args...)
		if e.Err != nil {
			out.Causes = []Error{ErrorOf(e.Err)}
		}
	case interface{ Unwrap() []error }:
		for _, c := range e.Unwrap() {
			out.Causes = append(out.Causes, ErrorOf(c))
		}
	}
	return out
}

// err is the error the answer describes, rebuilt: what a server of any
// version sent, at worst (no code: an older server) its text alone.
func (e *Error) err() error {
	var causes []error
	for i := range e.Causes {
		causes = append(causes, e.Causes[i].err())
	}
	switch {
	case e.Code == CodeConfig && len(e.Args) == 4:
		return &config.Error{Source: e.Args[0], Item: e.Args[1], Field: e.Args[2], Msg: e.Args[3]}
	case e.Code != "":
		ce := &CodedError{Code: e.Code, Args: e.Args, msg: e.Error}
		if len(causes) == 1 {
			ce.Err = causes[0]
		}
		return ce
	case len(causes) > 0:
		return &joined{msg: e.Error, errs: causes}
	}
	return errors.New(e.Error)
}

// joined is errors.Join's error as the server wrote it.
type joined struct {
	msg  string
	errs []error
}

func (j *joined) Error() string   { return j.msg }
func (j *joined) Unwrap() []error { return j.errs }

// Note is one of an answer's notes by its code and the values it names,
// for a client to say in its own language.
type Note struct {
	Code Code     `json:"code"`
	Args []string `json:"args,omitempty"`
}

// Text is the note's English.
func (n Note) Text() string {
	a := make([]any, len(n.Args))
	for i, s := range n.Args {
		a[i] = s
	}
	return fmt.Sprintf(formats[n.Code], a...)
}
