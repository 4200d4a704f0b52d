package i18n

import (
	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
)

// apiMessages are the messages of the admin API's codes: an error's (or
// a note's) Args fill them in order, its cause the last verb. The API
// stays English; dog says its errors and notes in the printer's language
// by their code. TestAPIErrors fails when a code has no message here, or
// a message differs from the code's English.
var apiMessages = map[adminapi.Code]Key{
	adminapi.CodeBadRequest:       APIBadRequest,
	adminapi.CodeTooLarge:         APITooLarge,
	adminapi.CodeForbiddenRoot:    APIForbiddenRoot,
	adminapi.CodeForbiddenGroup:   APIForbiddenGroup,
	adminapi.CodeRootOnly:         APIRootOnly,
	adminapi.CodeImportBusy:       APIImportBusy,
	adminapi.CodeNoSuchItem:       APINoSuchItem,
	adminapi.CodeInItem:           APIInItem,
	adminapi.CodeNothingToReset:   APINothingToReset,
	adminapi.CodeResetPending:     APIResetPending,
	adminapi.CodeResetNotSaved:    APIResetNotSaved,
	adminapi.CodeSaveFailedToo:    APISaveFailedToo,
	adminapi.CodeReloadPending:    APIReloadPending,
	adminapi.CodeConfigNotApplied: APIConfigNotApplied,
	adminapi.CodeNoConfigFile:     APINoConfigFile,
	adminapi.CodeArchiveConfig:    APIArchiveConfig,
	adminapi.CodeArchivePaths:     APIArchivePaths,
	adminapi.CodeKeepLocal:        APIKeepLocal,
	adminapi.CodeImportFailed:     APIImportFailed,
	adminapi.CodeImportNotUndone:  APIImportNotUndone,
	adminapi.CodeWriteConfig:      APIWriteConfig,
	adminapi.CodeUndoTable:        APIUndoTable,
	adminapi.CodeUndoHistory:      APIUndoHistory,
	adminapi.CodeUndoConfig:       APIUndoConfig,
	adminapi.CodeReadCounters:     APIReadCounters,
	adminapi.CodeCheckpoint:       CheckpointErr,
	adminapi.CodeNftables:         APINftables,
	adminapi.CodeBandwidthLimits:  APIBandwidthLimits,

	adminapi.CodeNoteKeptPath:      APINoteKeptPath,
	adminapi.CodeNoteConfigWarning: APINoteConfigWarning,
	adminapi.CodeNoteHistoryKnown:  APINoteHistoryKnown,
	adminapi.CodeNoteLimitsHere:    APINoteLimitsHere,
}

// messageArgs are the codes whose last arg is a message of dog's
// packages (a config warning), translated as Message translates it.
var messageArgs = map[adminapi.Code]bool{adminapi.CodeNoteConfigWarning: true}

// apiError is e in the printer's language: by its code where dog knows
// the code and the answer names as many values as its message takes (a
// newer enforcer may send a code or args this dog does not know), else
// its English text, translated as any other message.
func (p *Printer) apiError(e *adminapi.CodedError) string {
	if e.Code == adminapi.CodeArchive && len(e.Args) >= 2 {
		return p.archiveError(e.Args[0], archive.Kind(e.Args[1]), e.Args[2:], e.Err, e.Error())
	}
	if s, ok := p.coded(e.Code, e.Args, e.Err); ok {
		return s
	}
	return translateMessage(e.Error())
}

// APINote is a note of the admin API's answer (its English text, and its
// code when the enforcer sent one) in the printer's language.
func (p *Printer) APINote(n *adminapi.Note, text string) string {
	if p.lang == EN {
		return text
	}
	if n != nil {
		if s, ok := p.coded(n.Code, n.Args, nil); ok {
			return s
		}
	}
	return translateMessage(text)
}

// coded is the message of code with args and cause, if dog knows the
// code and the args fit its message.
func (p *Printer) coded(code adminapi.Code, args []string, cause error) (string, bool) {
	k, ok := apiMessages[code]
	if !ok {
		return "", false
	}
	a := make([]any, 0, len(args)+1)
	for i, s := range args {
		if i == len(args)-1 && messageArgs[code] {
			s = p.Message(s)
		}
		a = append(a, s)
	}
	if cause != nil {
		a = append(a, cause)
	}
	if len(a) != argCount(messages[k].en) {
		return "", false
	}
	return p.Sprintf(k, a...), true
}

// archiveKinds are the messages of the kinds of archive.Error, but of
// the kinds whose message is their cause alone (archive.KindRead,
// archive.KindStateInvalid). TestArchiveKinds fails when a kind has no
// message here, or a message differs from the kind's English.
var archiveKinds = map[archive.Kind]Key{
	archive.KindTooLarge:        ArchiveTooLarge,
	archive.KindExpands:         ArchiveExpands,
	archive.KindNotGzip:         ArchiveNotGzip,
	archive.KindTruncated:       ArchiveTruncated,
	archive.KindTrailingData:    ArchiveTrailingData,
	archive.KindNoName:          ArchiveNoName,
	archive.KindAbsolutePath:    ArchiveAbsolutePath,
	archive.KindPathTraversal:   ArchivePathTraversal,
	archive.KindSymlink:         ArchiveSymlink,
	archive.KindHardLink:        ArchiveHardLink,
	archive.KindDevice:          ArchiveDevice,
	archive.KindFIFO:            ArchiveFIFO,
	archive.KindDirectory:       ArchiveDirectory,
	archive.KindEntryType:       ArchiveEntryType,
	archive.KindUnexpectedFile:  ArchiveUnexpectedFile,
	archive.KindNegativeSize:    ArchiveNegativeSize,
	archive.KindDuplicate:       ArchiveDuplicate,
	archive.KindEntryTooLarge:   ArchiveEntryTooLarge,
	archive.KindNoManifest:      ArchiveNoManifest,
	archive.KindManifestJSON:    ArchiveManifestJSON,
	archive.KindOtherTool:       ArchiveOtherTool,
	archive.KindNewerFormat:     ArchiveNewerFormat,
	archive.KindUnknownFormat:   ArchiveUnknownFormat,
	archive.KindTextTooLong:     ArchiveTextTooLong,
	archive.KindBadText:         ArchiveBadText,
	archive.KindListedTwice:     ArchiveListedTwice,
	archive.KindListsUnexpected: ArchiveListsUnexpected,
	archive.KindNotListed:       ArchiveNotListed,
	archive.KindMissing:         ArchiveMissing,
	archive.KindSizeMismatch:    ArchiveSizeMismatch,
	archive.KindChecksum:        ArchiveChecksum,
	archive.KindConfigInvalid:   ArchiveConfigInvalid,
	archive.KindItemNoID:        ArchiveItemNoID,
	archive.KindItemTwice:       ArchiveItemTwice,
	archive.KindHostID:          ArchiveHostID,
	archive.KindHistoryLine:     ArchiveHistoryLine,
	archive.KindHistoryNoID:     ArchiveHistoryNoID,
	archive.KindHistoryTooLong:  ArchiveHistoryTooLong,
	archive.KindHistoryText:     ArchiveHistoryText,
}

// archiveError is a refused archive (an archive.Error, or its parts as
// the admin API sent them) in the printer's language: by its kind where
// dog knows it and the args fit, else english translated as any other
// message.
func (p *Printer) archiveError(entry string, kind archive.Kind, args []string, cause error, english string) string {
	var msg string
	if k, ok := archiveKinds[kind]; ok {
		a := make([]any, 0, len(args)+1)
		for _, s := range args {
			a = append(a, s)
		}
		if cause != nil {
			a = append(a, cause)
		}
		if len(a) != argCount(messages[k].en) {
			return translateMessage(english)
		}
		msg = p.Sprintf(k, a...)
	} else if archive.KindFormat(kind) == "%w" && len(args) == 0 && cause != nil {
		msg = p.Error(cause)
	} else {
		return translateMessage(english)
	}
	if entry == "" {
		return p.Sprintf(ArchiveInvalid, msg)
	}
	return p.Sprintf(ArchiveInvalidEntry, entry, msg)
}

// argCount is the number of arguments format takes.
func argCount(format string) int {
	n, next := 0, 0
	fillVerbs(format, func(i int, _ byte) string {
		next = i + 1
		n = max(n, next)
		return ""
	})
	return n
}
