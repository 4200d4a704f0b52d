package i18n

import "port-traffic-dog/internal/adminapi"

// apiErrors are the messages of the admin API's error codes: an error's
// Args fill them in order, its cause the last verb. The API stays
// English; dog says its errors in the printer's language by their code.
// TestAPIErrors fails when a code has no message here, or a message
// differs from the code's English.
var apiErrors = map[adminapi.Code]Key{
	adminapi.CodeBadRequest:       APIBadRequest,
	adminapi.CodeTooLarge:         APITooLarge,
	adminapi.CodeForbiddenRoot:    APIForbiddenRoot,
	adminapi.CodeForbiddenGroup:   APIForbiddenGroup,
	adminapi.CodeRootOnly:         APIRootOnly,
	adminapi.CodeImportBusy:       APIImportBusy,
	adminapi.CodeNoSuchItem:       APINoSuchItem,
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
}

// apiError is e in the printer's language: by its code where dog knows
// the code and the answer names as many values as its message takes (a
// newer enforcer may send a code or args this dog does not know), else
// its English text, translated as any other message.
func (p *Printer) apiError(e *adminapi.CodedError) string {
	if k, ok := apiErrors[e.Code]; ok {
		args := make([]any, 0, len(e.Args)+1)
		for _, a := range e.Args {
			args = append(args, a)
		}
		if e.Err != nil {
			args = append(args, e.Err)
		}
		if len(args) == argCount(messages[k].en) {
			return p.Sprintf(k, args...)
		}
	}
	return translateMessage(e.Error())
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
