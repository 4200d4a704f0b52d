package i18n

// kongMessages are the formats of the command-line errors of kong (the
// library that parses dog's arguments) that dog's command line can meet,
// and their Chinese. kong gives its errors no types to tell them by, so
// they are known by their formats, which TestKongMessages finds in kong's
// source: a kong that rewords one fails it. Flags, arguments, values and
// suggestions stay as kong wrote them; a message not listed stays English.
//
// The first format that matches wins: the longer ones come first.
var kongMessages = &patternList{formats: []struct{ en, zh string }{
	// Suggestions kong appends to an unknown flag or argument.
	{"%s, did you mean one of %s?", "%s；是不是想用其中之一：%s？"},
	{"%s, did you mean %s?", "%s；是不是想用 %s？"},
	// A flag that takes a value followed by another flag.
	{"%s; perhaps try %s=%q?", "%s；是不是想写 %s=%q？"},

	{"unknown flag %s", "未知的选项 %s"},
	{"unexpected argument %s", "多余的参数 %s"},
	{"flag --%s applies to the default command %q, not %q", "选项 --%s 属于默认命令 %q，不属于 %q"},
	{"%s must be one of %s but got %q", "%s 必须是 %s 之一，实际是 %q"},

	// Values (after "--flag: ").
	{"expected %s value but got %q (%s)", "需要 %s 类型的值，实际是 %q（%s）"},
	{"expected duration but got %q: %v", "需要时长（例如 2s、1m），实际是 %q：%v"},
	{"bool value must be true, 1, yes, false, 0 or no but got %q", "布尔值必须是 true、1、yes、false、0 或 no，实际是 %q"},

	// Missing arguments or commands.
	{"expected one of %s", "缺少以下之一：%s"},
	{"expected %s", "缺少 %s"},

	// The flag a value error is about.
	{"%s: %w", "%s：%v"},
}}

// ParseError is a command-line error of kong in the printer's language.
func (p *Printer) ParseError(err error) string {
	if p.lang == EN {
		return err.Error()
	}
	t, _ := kongMessages.translate(err.Error())
	return t
}
