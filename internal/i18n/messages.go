package i18n

// Key names a message of the catalog. Keys are typed constants, so a
// message used in code always exists; TestCatalog fails when one lacks a
// translation.
type Key int

// The messages, grouped by where dog prints them.
const (
	// Counts.

	ItemsOne Key = iota
	ItemsMany
	HistoryOne
	HistoryMany

	// The status table.

	ProductName
	HeadEnforcer
	HeadNotRunning
	HeadCheckpoint
	ColPorts
	ColRemark
	RemarkInFull
	ColUsed
	ColQuota
	ColState
	WholeHost
	NoQuota
	QuotaOf
	StateOK
	StateExpired
	StateBlockedQuota
	StateBlocked
	InOut
	ProtocolsBilling
	NeverResets
	ResetsOnDay
	ResetsOnDayNext
	RateBoth
	RateInOut
	RateIn
	RateOut
	ExpiresOn
	ErrNotRunning
	NoCheckpoint
	StateDirErr
	OfflineLive
	OfflineNoTable
	OfflineKernelErr

	// History and reset.

	ColTime
	ColReason
	ColIn
	ColOut
	ColBillable
	ReasonAuto
	ReasonManual
	ReasonImport
	ReasonLegacy
	NoResets
	HistoryBytes
	ResetWhich
	ResetDone

	// check-config.

	CheckOK
	CheckHostQuota
	ForwardingUncounted

	// add, set, rm.

	FlagNoneAdd
	FlagNeedsValue
	FlagValueErr
	FlagFileEmpty
	ReadingToken
	ReadingTokenStdin
	Warning
	NotifyZoneDiffers
	NothingToChange
	EditAdded
	EditChanged
	EditRemoved
	ConfigFileErr
	ConfigDirErr
	ReadConfigErr
	EditFailed
	EditInvalid
	EditApplied
	EditPending
	EditRefusedRestoreFailed
	EditRefused

	// export, import.

	ExportNeedsEnforcer
	ExportNoConfig
	ExportReadConfig
	CheckpointErr
	ExportHistory
	Exported
	ExportedNext
	FileExists
	WriteFileErr
	ReadFileErr
	ImportOnlyArchive
	ImportNeedsEnforcer
	ImportRefused
	Imported
	ImportDryRun
	ImportNote
	ImportReset
	ImportDryRunDone

	// Confirmations.

	ConfirmNoTTY
	Indented
	ConfirmPrompt
	Cancelled
	PeriodUse
	PeriodOfQuota
	ConfirmResetAll
	ConfirmRm
	ConfirmMigrate

	// Live views.

	WatchInterval
	WatchFooter
	WatchMore
	NowRates

	// The console.

	Working
	ConsoleResetTitle
	ConsoleResetWhat
	ConsoleHistoryAll
	ConsoleHistoryOf
	ConsoleFormKeys
	ConsoleConfirmKeys
	ConsoleTextKeys
	ConsoleErrorTitle
	ConsoleDoneTitle
	ConsoleConfigInvalid
	StatusConfigInvalid
	ConsolePortsExist
	ConsolePortsTaken
	ConsoleImportKeys
	ConsoleColIn
	ConsoleColOut
	ConsoleStateBlocked
	ConsoleStateExpiring
	ConsoleStateLimited
	ConsoleNoItems
	ConsoleRefresh
	ConsoleKeys
	ConsoleTotal
	ConsoleNBlocked
	FieldPorts
	HintPorts
	FieldRemark
	HintRemark
	FieldQuota
	HintQuota
	FieldBilling
	HintBilling
	FieldResetDay
	HintResetDay
	FieldExpires
	HintExpires
	FieldRate
	HintRate
	FieldRateIn
	HintRateIn
	FieldRateOut
	HintRateOut
	FieldBurst
	HintBurst
	FieldProtocols
	HintProtocols
	PortsRequired
	ConsoleAddTitle
	ConsoleEditTitle
	ConsoleNoChange
	ConsolePreview
	ConsoleRemoveTitle
	ConsoleRemoveWhat
	ConsoleImportTitle
	ConsoleExportTitle
	FieldImportFile
	FieldExportFile
	PathRequired
	ConsoleImportWhat
	NotConfigured
	PathHint
	ConsoleNotifyTitle
	ConsoleNotifyKeys
	ItemPrefix

	// import-legacy.

	LegacyAlreadyMigrated
	LegacyNoConfig
	LegacyTableLeft
	LegacyNothingChanged
	LegacyFlagsOnly
	LegacyReadOurs
	LegacyOursInvalid
	LegacyNotMigrated
	LegacyDoesNotFit
	LegacyDryRun
	LegacyNeedsEnforcer
	LegacyNeedsRoot
	LegacyForeignTable
	LegacyHeader
	LegacyPorts
	LegacyPortOne
	LegacyPortsMany
	LegacyResetOne
	LegacyResetsMany
	LegacyCronLineOne
	LegacyCronLinesMany
	LegacyClassOne
	LegacyClassesMany
	LegacyFilterOne
	LegacyFiltersMany
	LegacyGlobalBilling
	LegacyHistory
	LegacyWeCom
	LegacyToRemove
	LegacyThenTable
	LegacyThenHTB
	LegacyThenShortcut
	LegacyNotChecked
	LegacyPortErr
	LegacyBackedUp
	LegacyReread
	LegacyChanged
	LegacyCheckpoint
	LegacyRefused
	LegacyWrote
	LegacyUndoFailed
	LegacyUndone
	LegacyNotLive
	LegacyRenameYourself
	LegacyRenamed
	LegacyRatesFailed
	LegacyReloadErr
	LegacyReloaded
	LegacyDone
	LegacyRmCron
	LegacyRmTable
	LegacyCronBackFailed
	LegacyRemoved
	LegacyRmQdisc
	LegacyRemovedHTB
	LegacyRmShortcut
	LegacyRemovedShortcut
	LegacyPartlyLeft
	LegacyTokenFailed
	LegacyTokenDone
	LegacyWeComNot
	LegacyRatesAdded
	LegacyRatesPending
	LegacyTelegramHead
	LegacyTelegramNothing
	LegacyTelegramSetUp
	LegacyTelegramNotHere
	LegacyTelegramRefuses
	LegacyTelegramDisabled
	LegacyTelegramStep
	LegacyTelegramNotSetUp
	LegacyTelegramFailed
	LegacyTelegramNotCarried
	LegacyWhereLive
	LegacyWhereNotLive
	LegacyOff
	LegacyEvery
	LegacyNone
	LegacyForceAlertmanager

	// --help.

	HelpUsage
	HelpArguments
	HelpFlags
	HelpCommands
	HelpMore
	HelpMoreCommand

	// The enforcer's errors, by their admin API code (apiErrors).

	APIBadRequest
	APITooLarge
	APIForbiddenRoot
	APIForbiddenGroup
	APIRootOnly
	APIImportBusy
	APINoSuchItem
	APIInItem
	APINothingToReset
	APIResetPending
	APIResetNotSaved
	APISaveFailedToo
	APIReloadPending
	APIConfigNotApplied
	APINoConfigFile
	APIArchiveConfig
	APIArchivePaths
	APIKeepLocal
	APIImportFailed
	APIImportNotUndone
	APIWriteConfig
	APIUndoTable
	APIUndoHistory
	APIUndoConfig
	APIReadCounters
	APINftables
	APIBandwidthLimits
	APINoteKeptPath
	APINoteConfigWarning
	APINoteHistoryKnown
	APINoteLimitsHere

	// A refused archive (archive.Error), by its kind (archiveKinds).

	ArchiveInvalid
	ArchiveInvalidEntry
	ArchiveTooLarge
	ArchiveExpands
	ArchiveNotGzip
	ArchiveTruncated
	ArchiveTrailingData
	ArchiveNoName
	ArchiveAbsolutePath
	ArchivePathTraversal
	ArchiveSymlink
	ArchiveHardLink
	ArchiveDevice
	ArchiveFIFO
	ArchiveDirectory
	ArchiveEntryType
	ArchiveUnexpectedFile
	ArchiveNegativeSize
	ArchiveDuplicate
	ArchiveEntryTooLarge
	ArchiveNoManifest
	ArchiveManifestJSON
	ArchiveOtherTool
	ArchiveNewerFormat
	ArchiveUnknownFormat
	ArchiveTextTooLong
	ArchiveBadText
	ArchiveListedTwice
	ArchiveListsUnexpected
	ArchiveNotListed
	ArchiveMissing
	ArchiveSizeMismatch
	ArchiveChecksum
	ArchiveConfigInvalid
	ArchiveItemNoID
	ArchiveItemTwice
	ArchiveHostID
	ArchiveHistoryLine
	ArchiveHistoryNoID
	ArchiveHistoryTooLong
	ArchiveHistoryText

	numKeys
)

// messages holds every message in English (the format string, also the
// catalog key) and Chinese. Arguments may be reordered with %[n]s.
var messages = [numKeys]struct{ en, zh string }{
	ItemsOne:    {"1 item", "1 个条目"},
	ItemsMany:   {"%d items", "%d 个条目"},
	HistoryOne:  {"1 history entry", "1 条历史记录"},
	HistoryMany: {"%d history entries", "%d 条历史记录"},

	ProductName:       {"Port Traffic Dog", "端口流量狗"},
	HeadEnforcer:      {"enforcer %s", "执行器 %s"},
	HeadNotRunning:    {"ENFORCER NOT RUNNING", "执行器未运行"},
	HeadCheckpoint:    {"checkpoint %s", "检查点 %s"},
	ColPorts:          {"PORTS", "端口"},
	ColRemark:         {"REMARK", "备注"},
	RemarkInFull:      {"remark: %s", "备注：%s"},
	ColUsed:           {"USED", "已用"},
	ColQuota:          {"QUOTA", "配额"},
	ColState:          {"STATE", "状态"},
	WholeHost:         {"(whole host)", "（整机）"},
	NoQuota:           {"no quota", "无配额"},
	QuotaOf:           {"%s of %s", "%s / %s"},
	StateOK:           {"ok", "正常"},
	StateExpired:      {"expired", "已到期"},
	StateBlockedQuota: {"blocked: quota", "已阻断：超额"},
	StateBlocked:      {"blocked: %s", "已阻断：%s"},
	InOut:             {"in %s, out %s", "入 %s，出 %s"},
	ProtocolsBilling:  {"%s, billing %s", "%s，计费 %s"},
	NeverResets:       {"never resets (since %s)", "不重置（自 %s 起）"},
	ResetsOnDay:       {"resets on day %d", "每月 %d 日重置"},
	ResetsOnDayNext:   {"resets on day %d, next %s", "每月 %d 日重置，下次 %s"},
	RateBoth:          {"rate %s", "限速 %s"},
	RateInOut:         {"rate in %s, out %s", "限速 入 %s，出 %s"},
	RateIn:            {"rate in %s", "限速 入 %s"},
	RateOut:           {"rate out %s", "限速 出 %s"},
	ExpiresOn:         {"expires %s", "%s 到期"},
	ErrNotRunning:     {"the enforcer is not running", "执行器（dog-enforcer）未运行"},
	NoCheckpoint:      {"and no checkpoint to show: %v", "也没有可显示的检查点：%v"},
	StateDirErr:       {"state dir %s: %v", "状态目录 %s：%v"},
	OfflineLive:       {"showing the kernel's live counters with the billing periods of the checkpoint of %s", "显示内核的实时计数器，计费周期取自 %s 的检查点"},
	OfflineNoTable:    {"the kernel has no %s table (nothing is counted or blocked); showing the checkpoint of %s", "内核中没有 %s 表（不计数也不阻断）；显示 %s 的检查点"},
	OfflineKernelErr:  {"cannot read the kernel (%v); showing the checkpoint of %s", "无法读取内核（%v）；显示 %s 的检查点"},

	ColTime:      {"TIME", "时间"},
	ColReason:    {"REASON", "原因"},
	ColIn:        {"IN", "入站"},
	ColOut:       {"OUT", "出站"},
	ColBillable:  {"BILLABLE", "计费量"},
	ReasonAuto:   {"auto", "自动"},
	ReasonManual: {"manual", "手动"},
	ReasonImport: {"import", "导入"},
	ReasonLegacy: {"legacy", "旧脚本"},
	NoResets:     {"no resets yet", "尚无重置记录"},
	HistoryBytes: {"in %s, out %s, billable %s", "入 %s，出 %s，计费 %s"},
	ResetWhich:   {"name the items to reset, or --all", "请指定要重置的条目，或使用 --all"},
	ResetDone:    {"reset %s%s: period since %s: in %s, out %s, billable %s", "已重置 %s%s：自 %s 起的周期：入 %s，出 %s，计费 %s"},

	CheckOK:        {"%s: OK: %s (%d with a quota, %d with a bandwidth limit), time zone %s", "%s：正确：%s（%d 个有配额，%d 个有带宽限制），时区 %s"},
	CheckHostQuota: {", whole-host quota %s (%s)", "，整机配额 %s（%s）"},
	ForwardingUncounted: {"count_forwarded is false, but this host forwards IP packets (net.ipv4.ip_forward or IPv6 forwarding is on): " +
		"forwarded traffic (DNAT, Docker published ports, routing) is not counted by any item or by the host, " +
		"no item quota, block or expiry and no host quota applies to it; remove the line (auto) to count it",
		"count_forwarded 为 false，但这台主机在转发 IP 包（net.ipv4.ip_forward 或 IPv6 转发已打开）：" +
			"转发的流量（DNAT、Docker 发布的端口、路由）不计入任何条目，也不计入整机，" +
			"条目的配额、阻断和到期以及整机配额都对它不起作用；删掉这一行（即 auto）就会统计它"},

	FlagNoneAdd:              {"--%s none: leave the flag out instead", "--%s none：添加时请直接省略该选项"},
	FlagNeedsValue:           {"--%s needs a value (none removes the setting)", "--%s 需要一个值（none 表示删除该设置）"},
	FlagValueErr:             {"--%s: %v", "--%s：%v"},
	FlagFileEmpty:            {"--%s %s: empty", "--%s %s：文件为空"},
	ReadingToken:             {"reading the token: %v", "读取 token：%v"},
	ReadingTokenStdin:        {"reading the token from stdin: %v", "从标准输入读取 token：%v"},
	Warning:                  {"warning: %s", "警告：%s"},
	NothingToChange:          {"nothing to change: give at least one setting, e.g. --quota 1TB or --remark none", "没有要修改的内容：至少给出一项设置，例如 --quota 1TB 或 --remark none"},
	EditAdded:                {"added %s", "已添加 %s"},
	EditChanged:              {"changed %s", "已修改 %s"},
	EditRemoved:              {"removed %s", "已删除 %s"},
	ConfigFileErr:            {"config file: %v", "配置文件：%v"},
	ConfigDirErr:             {"config dir: %v", "配置目录：%v"},
	ReadConfigErr:            {"read config: %v", "读取配置：%v"},
	EditFailed:               {"%s: %v (nothing changed)", "%s：%v（未做任何修改）"},
	EditInvalid:              {"the edit would make the config invalid, nothing changed:\n  %v", "此修改会使配置无效，未做任何修改：\n  %v"},
	EditApplied:              {"%s in %s (%s); the enforcer applied it", "%[2]s 中%[1]s（%[3]s）；执行器已应用"},
	EditPending:              {"%s in %s (%s); the enforcer is not running: the change applies when it starts", "%[2]s 中%[1]s（%[3]s）；执行器未运行：修改在它启动时生效"},
	EditRefusedRestoreFailed: {"the enforcer refused the change (%v), and putting the old file back failed: %v", "执行器拒绝了此修改（%v），且恢复原文件失败：%v"},
	EditRefused:              {"the enforcer refused the change, the file is back as it was: %v", "执行器拒绝了此修改，文件已恢复原样：%v"},

	ExportNeedsEnforcer: {"%v: export takes a fresh checkpoint through the enforcer; start it first", "%v：导出要通过执行器取得最新检查点，请先启动它"},
	ExportNoConfig:      {"the enforcer runs on --port flags only, without a config file to export; move the items to a config file first", "执行器只用 --port 参数运行，没有可导出的配置文件；请先把条目移到配置文件中"},
	ExportReadConfig:    {"read the enforcer's config: %v", "读取执行器的配置：%v"},
	CheckpointErr:       {"checkpoint: %v", "检查点：%v"},
	ExportHistory:       {"history: %v", "历史记录：%v"},
	Exported:            {"exported %s, %s and the config of %s to %s (%s, sha256 %s)", "已把 %[1]s、%[2]s，以及 %[3]s 的配置导出到 %[4]s（%[5]s，sha256 %[6]s）"},
	ExportedNext:        {"counters as of %s; on the new host: dog import %s", "计数器截至 %s；在新主机上运行：dog import %s"},
	FileExists:          {"%s exists (use --force to overwrite)", "%s 已存在（用 --force 覆盖）"},
	WriteFileErr:        {"write %s: %v", "写入 %s：%v"},
	ReadFileErr:         {"read %s: %v", "读取 %s：%v"},
	ImportOnlyArchive:   {"the enforcer is not running: only the archive itself was checked", "执行器未运行：只检查了归档本身"},
	ImportNeedsEnforcer: {"%v: import re-creates the kernel counters with the archive's values, so the enforcer must run (systemctl start dog-enforcer); nothing changed", "%v：导入会用归档中的值重建内核计数器，执行器必须运行（systemctl start dog-enforcer）；未做任何修改"},
	ImportRefused:       {"import refused, nothing changed: %v", "导入被拒绝，未做任何修改：%v"},
	Imported:            {"imported %s and %s from %s (exported %s by dog %s)", "已从 %[3]s 导入 %[1]s、%[2]s（dog %[5]s 于 %[4]s 导出）"},
	ImportDryRun:        {"dry run: the archive is valid; an import would take %s and %s from %s (exported %s by dog %s)", "试运行：归档有效；导入将从 %[3]s 取得 %[1]s、%[2]s（dog %[5]s 于 %[4]s 导出）"},
	ImportNote:          {"note: %s", "注意：%s"},
	ImportReset:         {"reset %s: its period ended after the export (in %s, out %s)", "已重置 %s：它的周期在导出之后结束（入 %s，出 %s）"},
	ImportDryRunDone:    {"counters as of %s; nothing changed", "计数器截至 %s；未做任何修改"},

	ConfirmNoTTY:    {"%s needs a confirmation and there is no terminal to ask on: add --yes; nothing changed", "%s 需要确认，但没有可以提问的终端：请加上 --yes；未做任何修改"},
	Indented:        {"  %s", "  %s"},
	ConfirmPrompt:   {"%s [y/N] ", "%s [y/N] "},
	Cancelled:       {"cancelled, nothing changed", "已取消，未做任何修改"},
	PeriodUse:       {"%s%s: period since %s: in %s, out %s, billable %s", "%s%s：自 %s 起的周期：入 %s，出 %s，计费 %s"},
	PeriodOfQuota:   {" of %s", " / %s"},
	ConfirmResetAll: {"Close these periods now (use back to zero, blocked items unblocked)?", "现在结束以上周期（用量清零，已阻断的条目解除阻断）？"},
	ConfirmRm:       {"Remove %s from the config and drop its counters?", "从配置中删除 %s 并丢弃它的计数器？"},
	ConfirmMigrate:  {"Migrate now? The script's table, qdiscs and cron lines will be removed.", "现在迁移吗？脚本的 nftables 表、qdisc 和 cron 行将被删除。"},

	WatchInterval: {"--interval %v: at least %v (every status read holds the enforcer's lock)", "--interval %v：至少 %v（每次读取状态都会占用执行器的锁）"},
	WatchFooter:   {"every %v, Ctrl-C stops", "每 %v 刷新，Ctrl-C 退出"},
	WatchMore:     {"… %d more lines (dog alone opens the console, which scrolls)", "…… 还有 %d 行（只输入 dog 打开的控制台可以滚动）"},
	NowRates:      {"now in %s, out %s", "当前 入 %s，出 %s"},

	Working:                  {"working…", "处理中…"},
	ConsoleResetTitle:        {"Reset %s", "重置 %s"},
	ConsoleResetWhat:         {"This closes the period now: it goes to the history, the use starts again from zero and a blocked item is unblocked.", "这会立即结束当前周期：周期记入历史，用量从零开始，已阻断的条目解除阻断。"},
	ConsoleHistoryAll:        {"Reset history", "重置历史"},
	ConsoleHistoryOf:         {"Reset history of %s", "%s 的重置历史"},
	ConsoleFormKeys:          {"enter next · shift+tab back · esc cancel", "回车 下一项 · shift+tab 上一项 · esc 取消"},
	ConsoleConfirmKeys:       {"y yes · n no", "y 确认 · n 取消"},
	ConsoleTextKeys:          {"↑↓ scroll · esc back", "↑↓ 滚动 · esc 返回"},
	ConsoleImportKeys:        {"y import · esc cancel", "y 导入 · esc 取消"},
	ConsoleColIn:             {"IN b/s", "入 b/s"},
	ConsoleColOut:            {"OUT b/s", "出 b/s"},
	ConsoleStateBlocked:      {"blocked", "已阻断"},
	ConsoleStateExpiring:     {"expiring", "即将到期"},
	ConsoleStateLimited:      {"limited", "限速"},
	ConsoleNoItems:           {"no items yet: a adds one", "还没有条目：按 a 添加"},
	ConsoleRefresh:           {"live: every %v", "实时：每 %v 刷新"},
	ConsoleKeys:              {"a add  e edit  l limits  x expiry  d remove  r reset  h history  n notify  o export  i import  q quit", "a 添加  e 编辑  l 限速  x 到期  d 删除  r 重置  h 历史  n 通知  o 导出  i 导入  q 退出"},
	ConsoleTotal:             {"TOTAL", "合计"},
	ConsoleNBlocked:          {"%d blocked", "%d 个阻断"},
	FieldPorts:               {"Ports", "端口"},
	HintPorts:                {"443, 5000-5100 or 443,5000-5100", "443、5000-5100 或 443,5000-5100"},
	FieldRemark:              {"Remark", "备注"},
	HintRemark:               {"free text, e.g. the customer", "任意文字，例如客户名"},
	FieldQuota:               {"Quota", "配额"},
	HintQuota:                {"per period: 500GiB, 1TB; empty: none", "每周期：500GiB、1TB；留空表示不限"},
	FieldBilling:             {"Billing", "计费方式"},
	HintBilling:              {"out, in, sum, max or relay; empty: sum", "out、in、sum、max 或 relay；留空为 sum"},
	FieldResetDay:            {"Reset day", "重置日"},
	HintResetDay:             {"1-31, 0 never; empty: 1", "1-31，0 为不重置；留空为 1"},
	FieldExpires:             {"Expires", "到期日"},
	HintExpires:              {"YYYY-MM-DD; empty: never", "YYYY-MM-DD；留空为永不到期"},
	FieldRate:                {"Rate", "限速"},
	HintRate:                 {"both ways: 100Mbps; empty: none", "双向：100Mbps；留空为不限"},
	FieldRateIn:              {"Rate in", "入站限速"},
	HintRateIn:               {"to the port (uploads)", "到端口的流量（上传）"},
	FieldRateOut:             {"Rate out", "出站限速"},
	HintRateOut:              {"from the port (downloads)", "从端口发出的流量（下载）"},
	FieldBurst:               {"Burst", "突发"},
	HintBurst:                {"size; empty: derived from the rate", "大小；留空则按限速推算"},
	FieldProtocols:           {"Protocols", "协议"},
	HintProtocols:            {"tcp, udp or tcp,udp; empty: both", "tcp、udp 或 tcp,udp；留空为两者"},
	PortsRequired:            {"an item needs its ports", "条目需要端口"},
	ConsoleAddTitle:          {"Add an item", "添加条目"},
	ConsoleEditTitle:         {"Change %s", "修改 %s"},
	ConsoleNoChange:          {"nothing changed", "没有修改"},
	ConsolePreview:           {"The change to the config, checked as dog check-config checks it:", "对配置的修改（已按 dog check-config 的规则检查）："},
	ConsoleRemoveTitle:       {"Remove %s", "删除 %s"},
	ConsoleRemoveWhat:        {"Its counters and open period are dropped; the history stays.", "它的计数器和当前周期将被丢弃；历史记录保留。"},
	ConsoleImportTitle:       {"Import an archive", "导入归档"},
	ConsoleExportTitle:       {"Export to an archive", "导出到归档"},
	FieldImportFile:          {"Archive", "归档文件"},
	FieldExportFile:          {"File", "文件"},
	PathRequired:             {"give a file", "请给出文件名"},
	LegacyAlreadyMigrated:    {"nothing to import: %s was already migrated (%s)", "没有可导入的：%s 已经迁移过了（%s）"},
	LegacyNoConfig:           {"nothing to import: no port-traffic-dog.sh config in %s", "没有可导入的：%s 中没有 port-traffic-dog.sh 的配置"},
	LegacyTableLeft:          {"but its table inet %s is still loaded, without a config to import from: look at it with nft list table inet %[1]s, remove it with nft delete table inet %[1]s", "但它的 inet %s 表仍然加载着，却没有可导入的配置：用 nft list table inet %[1]s 查看，用 nft delete table inet %[1]s 删除"},
	LegacyNothingChanged:     {"%v (nothing changed)", "%v（未做任何修改）"},
	LegacyFlagsOnly:          {"the enforcer runs on --port flags only, without a config file to add the ports to; start it with --config.file (nothing changed)", "执行器只用 --port 参数运行，没有可以添加端口的配置文件；请用 --config.file 启动它（未做任何修改）"},
	LegacyReadOurs:           {"read the enforcer's config: %v (nothing changed)", "读取执行器的配置：%v（未做任何修改）"},
	LegacyOursInvalid:        {"the enforcer's config: %v (nothing changed)", "执行器的配置：%v（未做任何修改）"},
	LegacyNotMigrated:        {"not migrated, nothing changed:\n%v", "未迁移，未做任何修改：\n%v"},
	LegacyDoesNotFit:         {"the ports do not fit the enforcer's config %s, nothing changed:\n  %v", "这些端口与执行器的配置 %s 冲突，未做任何修改：\n  %v"},
	LegacyDryRun:             {"dry run: nothing changed", "试运行：未做任何修改"},
	LegacyNeedsEnforcer:      {"%v: the import goes through it; start it (systemctl start dog-enforcer: it leaves the script's setup alone), then run this again; nothing changed", "%v：导入要通过它进行；请先启动它（systemctl start dog-enforcer：它不会动脚本的设置），再运行一次；未做任何修改"},
	LegacyNeedsRoot:          {"reading the script's nftables table and tc setup needs root: sudo dog import-legacy; nothing changed", "读取脚本的 nftables 表和 tc 设置需要 root：请用 sudo dog import-legacy；未做任何修改"},
	LegacyForeignTable:       {"warning: table inet %s exists here but has no counter %s_out: it is not this config's, so it is left alone and the counters come from %s", "警告：这里有 inet %s 表，但没有计数器 %s_out：它不属于这份配置，所以不动它，计数取自 %s"},
	LegacyHeader:             {"port-traffic-dog.sh in %s (%s)", "%s 中的 port-traffic-dog.sh（%s）"},
	LegacyPorts:              {"%s:", "%s："},
	LegacyPortOne:            {"1 port", "1 个端口"},
	LegacyPortsMany:          {"%d ports", "%d 个端口"},
	LegacyResetOne:           {"1 reset", "1 次重置"},
	LegacyResetsMany:         {"%d resets", "%d 次重置"},
	LegacyCronLineOne:        {"1 cron line", "1 行 cron"},
	LegacyCronLinesMany:      {"%d cron lines", "%d 行 cron"},
	LegacyClassOne:           {"1 class", "1 个类"},
	LegacyClassesMany:        {"%d classes", "%d 个类"},
	LegacyFilterOne:          {"1 filter", "1 个过滤器"},
	LegacyFiltersMany:        {"%d filters", "%d 个过滤器"},
	LegacyGlobalBilling:      {"global.billing_mode %q: not read by any version of the script (each port has its own); ignored", "global.billing_mode %q：脚本的任何版本都不读取它（每个端口有自己的设置）；忽略"},
	LegacyHistory:            {"history: %s from %s carried into ours (reason %q)", "历史：%[2]s 中的 %[1]s转入我们的历史（原因 %[3]q）"},
	LegacyWeCom:              {"wecom: cannot be carried: Alertmanager has no WeCom group-robot receiver (its wechat_configs is the WeChat Work app API); set up alerts with dog notify", "企业微信：无法转移：Alertmanager 没有企业微信群机器人接收器（它的 wechat_configs 用的是企业微信应用 API）；请用 dog notify 设置告警"},
	LegacyToRemove:           {"to remove: the script's %s", "将删除：脚本的 %s"},
	LegacyThenTable:          {"\n  then table inet %s", "\n  然后是 inet %s 表"},
	LegacyThenHTB:            {", the HTB root 1: on %s (%s, %s)", "、%s 上的 HTB 根 1:（%s，%s）"},
	LegacyThenShortcut:       {", %s (the script's shortcut)", "、%s（脚本的快捷命令）"},
	LegacyNotChecked:         {"the enforcer is not running: the ports could not be checked against its config", "执行器未运行：无法对照它的配置检查这些端口"},
	LegacyPortErr:            {"port %s: %v", "端口 %s：%v"},
	LegacyBackedUp:           {"1. backed up %s to %s (0600)", "1. 已把 %s 备份到 %s（0600）"},
	LegacyReread:             {"read the script's table again: %v (nothing changed)", "再次读取脚本的表：%v（未做任何修改）"},
	LegacyChanged:            {"the script's table changed since the report: %v (nothing changed)", "脚本的表在报告之后变了：%v（未做任何修改）"},
	LegacyCheckpoint:         {"checkpoint the enforcer: %v (nothing changed)", "让执行器保存检查点：%v（未做任何修改）"},
	LegacyRefused:            {"the enforcer refused the import, nothing changed: %v", "执行器拒绝了导入，未做任何修改：%v"},
	LegacyWrote:              {"2. wrote %d items into %s\n3. imported their counters and periods (blocked: %s)", "2. 已把 %d 个条目写入 %s\n3. 已导入它们的计数器和周期（阻断：%s）"},
	LegacyUndoFailed:         {"%v; undoing the import failed too: %v (the backup %s holds the script's files)", "%v；撤销导入也失败了：%v（备份 %s 里有脚本的文件）"},
	LegacyUndone:             {"%v; the import was undone: the script's setup runs as before", "%v；导入已撤销：脚本的设置照常运行"},
	LegacyNotLive:            {"4. the script's table is not live here: no table, qdisc or cron line touched", "4. 脚本的表不在本机运行：没有动任何表、qdisc 或 cron 行"},
	LegacyRenameYourself:     {"%v: rename it yourself, or the next run imports it again", "%v：请自己改名，否则下次运行会再次导入它"},
	LegacyRenamed:            {"5. renamed the script's config to %s", "5. 已把脚本的配置改名为 %s"},
	LegacyRatesFailed:        {"the bandwidth limits could not be applied (%v); set them with dog set PORTS --rate-out RATE", "无法应用带宽限制（%v）；请用 dog set 端口 --rate-out 速率 设置"},
	LegacyReloadErr:          {"6. reload: %v", "6. 重新加载：%v"},
	LegacyReloaded:           {"6. the enforcer reloaded its config", "6. 执行器已重新加载配置"},
	LegacyDone:               {"done: dog status shows the ports; enable the daemons at boot with systemctl enable dog-enforcer dog-exporter", "完成：dog status 会显示这些端口；用 systemctl enable dog-enforcer dog-exporter 设置开机启动"},
	LegacyRmCron:             {"remove the script's cron lines: %v", "删除脚本的 cron 行：%v"},
	LegacyRmTable:            {"remove the script's table: %v", "删除脚本的表：%v"},
	LegacyCronBackFailed:     {"%v; putting its cron lines back failed: %v", "%v；恢复它的 cron 行失败：%v"},
	LegacyRemoved:            {"4. removed the script's %s and table inet %s", "4. 已删除脚本的 %s 和 inet %s 表"},
	LegacyRmQdisc:            {"%v: remove it with tc qdisc del dev %s root", "%v：请用 tc qdisc del dev %s root 删除"},
	LegacyRemovedHTB:         {"   removed the script's HTB root on %s", "   已删除 %s 上脚本的 HTB 根"},
	LegacyRmShortcut:         {"remove the script's shortcut %s: %v", "删除脚本的快捷命令 %s：%v"},
	LegacyRemovedShortcut:    {"   removed %s (the script's shortcut)", "   已删除 %s（脚本的快捷命令）"},
	LegacyPartlyLeft:         {"the ports are ours now, but part of the script's setup is left:\n%v", "端口已经归我们管理，但脚本的部分设置还在：\n%v"},
	LegacyTokenFailed:        {"telegram: could not write the bot token file: %v; carry it by hand with dog notify telegram", "telegram：无法写入 bot token 文件：%v；请用 dog notify telegram 手工转移"},
	LegacyTokenDone:          {"telegram: the bot token is in %s (0600); to get the script's alerts and reports from Alertmanager, run:\n  %s", "telegram：bot token 在 %s（0600）；要从 Alertmanager 收到脚本原来的告警和报告，请运行：\n  %s"},
	LegacyWeComNot:           {"wecom: not carried (Alertmanager cannot send to WeCom group robots)", "企业微信：未转移（Alertmanager 不能发送到企业微信群机器人）"},
	LegacyRatesAdded:         {"6. added the bandwidth limits in %s (%s); the enforcer applied them", "6. 已在 %s 中添加带宽限制（%s）；执行器已应用"},
	LegacyRatesPending:       {"6. added the bandwidth limits in %s (%s); the enforcer is not running: they apply when it starts", "6. 已在 %s 中添加带宽限制（%s）；执行器未运行：限速在它启动时生效"},
	LegacyTelegramHead:       {"telegram: chat %s, server name %q, status report %s: ", "telegram：聊天 %s，服务器名 %q，状态报告 %s："},
	LegacyTelegramNothing:    {"no bot token or chat id in the script's config: nothing to carry", "脚本的配置里没有 bot token 或 chat id：没有可转移的"},
	LegacyTelegramSetUp:      {"set up after the migration as dog notify telegram does, in %s and %s", "迁移后按 dog notify telegram 的方式设置，写入 %s 和 %s"},
	LegacyTelegramNotHere:    {"not set up here: %v; after the migration the bot token goes into a 0600 file and the dog notify telegram command is printed", "本机不设置：%v；迁移后 bot token 存入一个 0600 文件，并打印 dog notify telegram 命令"},
	LegacyTelegramRefuses:    {"dog notify telegram refuses: %s; after the migration the bot token goes into a 0600 file, the command is printed and import-legacy exits non-zero", "dog notify telegram 拒绝：%s；迁移后 bot token 存入一个 0600 文件，打印命令，import-legacy 以非零状态退出"},
	LegacyTelegramDisabled:   {"they are disabled in the script", "脚本里已停用"},
	LegacyTelegramStep:       {"7. the script's Telegram settings, set up as dog notify telegram does:", "7. 按 dog notify telegram 的方式设置脚本的 Telegram："},
	LegacyTelegramNotSetUp:   {"telegram: not set up with dog notify here: %v", "telegram：本机没有用 dog notify 设置：%v"},
	LegacyTelegramFailed:     {"telegram: dog notify telegram did not set it up: %s", "telegram：dog notify telegram 没有设置成功：%s"},
	LegacyTelegramNotCarried: {"the ports are migrated, but the script's Telegram settings were not carried: %v", "端口已迁移，但脚本的 Telegram 设置没有转过来：%v"},
	LegacyWhereLive:          {"its table inet %s is live here: counters read from it", "它的 inet %s 表在本机运行：计数从表中读取"},
	LegacyWhereNotLive:       {"its table is not live here: counters from %s; no table, qdisc or cron line is touched", "它的表不在本机运行：计数取自 %s；不会动任何表、qdisc 或 cron 行"},
	LegacyOff:                {"off", "关闭"},
	LegacyEvery:              {"every %s", "每 %s"},
	LegacyNone:               {"none", "无"},
	ItemPrefix:               {"item %q: ", "条目 %q："},
	LegacyForceAlertmanager:  {"%v (for import-legacy: --force-alertmanager)", "%v（import-legacy 用 --force-alertmanager）"},
	PathHint:                 {"a path on this host", "本机上的路径"},
	NotConfigured:            {"%q is not configured", "%q 未配置"},
	ConsoleImportWhat:        {"Import replaces the config, counters, periods and history of this host.", "导入会替换本机的配置、计数器、周期和历史记录。"},
	ConsoleNotifyTitle:       {"Notifications (dog notify status; set up with dog notify telegram)", "通知（dog notify status；用 dog notify telegram 设置）"},
	ConsoleNotifyKeys:        {"t send a test message · s send the status report now · esc back", "t 发送测试消息 · s 立即发送状态报告 · esc 返回"},

	HelpUsage:       {"Usage: %s", "用法：%s"},
	HelpArguments:   {"Arguments:", "参数："},
	HelpFlags:       {"Flags:", "选项："},
	HelpCommands:    {"Commands:", "命令："},
	HelpMore:        {"Run \"%s --help\" for more information.", "运行 \"%s --help\" 查看详细说明。"},
	HelpMoreCommand: {"Run \"%s <command> --help\" for more information on a command.", "运行 \"%s <command> --help\" 查看某个命令的详细说明。"},

	APIBadRequest:        {"bad request: %v", "请求无效：%v"},
	APITooLarge:          {"import: reading the archive: %v", "导入：读取归档：%v"},
	APIForbiddenRoot:     {"permission denied: the admin API is for root only; you are uid %s", "拒绝访问：管理 API 只对 root 开放；你的 uid 是 %s"},
	APIForbiddenGroup:    {"permission denied: the admin API is for root and members of group %s (gid %s); you are uid %s", "拒绝访问：管理 API 只对 root 和 %s 组（gid %s）的成员开放；你的 uid 是 %s"},
	APIRootOnly:          {"permission denied: %s %s replaces the configuration, which only root may change; you are uid %s (run it as root)", "拒绝访问：%s %s 会替换配置，只有 root 可以修改配置；你的 uid 是 %s（请以 root 身份运行）"},
	APIImportBusy:        {"another import is at work; try again when it is done", "另一个导入正在进行；请等它完成后再试"},
	APINoSuchItem:        {"no item %q is configured", "没有配置条目 %q"},
	APIInItem:            {"no item %q is configured; port %s belongs to item %q (name an item by all its ports)", "没有配置条目 %q；端口 %s 属于条目 %q（请用条目的全部端口来指定它）"},
	APINothingToReset:    {"nothing to reset: name items by their ports, or use --all", "没有要重置的：请用端口指定条目，或使用 --all"},
	APIResetPending:      {"the reset accepted, but the kernel did not take it yet (%v); the enforcer retries until it does (metric port_traffic_dog_enforcer_synced), do not repeat it", "重置已接受，但内核还没有生效（%v）；执行器会一直重试直到生效（指标 port_traffic_dog_enforcer_synced），不要重复操作"},
	APIResetNotSaved:     {"the reset is in force in the kernel, but saving it failed (retried at every checkpoint): %v", "重置已在内核中生效，但保存失败（每个检查点都会重试）：%v"},
	APISaveFailedToo:     {"saving it failed too (retried at every checkpoint): %v", "保存也失败了（每个检查点都会重试）：%v"},
	APIReloadPending:     {"configuration accepted, but the kernel did not take it yet (%v); the enforcer retries until it does (metric port_traffic_dog_enforcer_synced), do not repeat it", "配置已接受，但内核还没有生效（%v）；执行器会一直重试直到生效（指标 port_traffic_dog_enforcer_synced），不要重复操作"},
	APIConfigNotApplied:  {"config not applied, nothing changed: %v", "配置未应用，未做任何修改：%v"},
	APINoConfigFile:      {"this enforcer runs without a config file (--port flags only), so it cannot take the archive's configuration: start it with --config.file", "这个执行器没有配置文件（只用 --port 参数运行），无法接受归档中的配置：请用 --config.file 启动它"},
	APIArchiveConfig:     {"the archive's configuration does not fit this enforcer: %v", "归档中的配置不适合这个执行器：%v"},
	APIArchivePaths:      {"the archive's configuration would move state_dir to %q and admin_socket to %q (this host: %q, %q); refused, nothing changed", "归档中的配置会把 state_dir 改到 %q、admin_socket 改到 %q（本机：%q、%q）；已拒绝，未做任何修改"},
	APIKeepLocal:         {"keeping this host's %s in the archive's configuration: %v (nothing changed)", "在归档的配置中保留本机的 %s：%v（未做任何修改）"},
	APIImportFailed:      {"import failed, nothing changed: %v", "导入失败，未做任何修改：%v"},
	APIImportNotUndone:   {"import failed and could not be fully undone: %v", "导入失败，且未能完全撤销：%v"},
	APIWriteConfig:       {"write the config file: %v", "写入配置文件：%v"},
	APIUndoTable:         {"undo: restoring the table (retried): %v", "撤销：恢复 nftables 表（会重试）：%v"},
	APIUndoHistory:       {"undo: history: %v", "撤销：历史记录：%v"},
	APIUndoConfig:        {"undo: config file: %v", "撤销：配置文件：%v"},
	APIReadCounters:      {"read counters: %v", "读取计数器：%v"},
	APINftables:          {"nftables: %v", "nftables：%v"},
	APIBandwidthLimits:   {"bandwidth limits: %v", "带宽限制：%v"},
	APINoteKeptPath:      {"kept this host's %s %s (the archive had %s)", "保留了本机的 %s %s（归档中是 %s）"},
	APINoteConfigWarning: {"the archive's config: %s", "归档中的配置：%s"},
	APINoteLimitsHere: {"the archive's bandwidth limits cannot apply on this host (%s); counting and quotas are not affected: after the import, fix `interfaces` or the rates in the config",
		"归档中的带宽限制在本机无法生效（%s）；计数和配额不受影响：导入后请在配置中修正 `interfaces` 或限速"},
	APINoteHistoryKnown: {"%s of the archive's history entries are in this host's history already (an archive of this host, or one imported before): not added again",
		"归档中有 %s 条历史记录本机历史里已经有了（本机的归档，或以前导入过的归档）：不再重复添加"},

	ArchiveInvalid:         {"invalid archive: %s", "无效的归档：%s"},
	ArchiveInvalidEntry:    {"invalid archive: %s: %s", "无效的归档：%s：%s"},
	ArchiveTooLarge:        {"larger than the %s MiB limit", "超过了 %s MiB 的上限"},
	ArchiveExpands:         {"expands to more than %s MiB", "解压后超过 %s MiB"},
	ArchiveNotGzip:         {"not a gzip-compressed archive (%v)", "不是 gzip 压缩的归档（%v）"},
	ArchiveTruncated:       {"truncated (the file ends in the middle)", "不完整（文件在中途结束）"},
	ArchiveTrailingData:    {"unexpected data after the end of the archive", "归档结束之后还有多余的数据"},
	ArchiveNoName:          {"an entry has no name", "有一项没有名字"},
	ArchiveAbsolutePath:    {"absolute path; an archive holds only %s", "绝对路径；归档里只能有 %s"},
	ArchivePathTraversal:   {`path with ".." (path traversal); an archive holds only %s`, `路径含有 ".."（路径穿越）；归档里只能有 %s`},
	ArchiveSymlink:         {"is a symbolic link (to %q); archives hold regular files only", "是符号链接（指向 %q）；归档里只能有普通文件"},
	ArchiveHardLink:        {"is a hard link (to %q); archives hold regular files only", "是硬链接（指向 %q）；归档里只能有普通文件"},
	ArchiveDevice:          {"is a device node; archives hold regular files only", "是设备文件；归档里只能有普通文件"},
	ArchiveFIFO:            {"is a FIFO; archives hold regular files only", "是 FIFO；归档里只能有普通文件"},
	ArchiveDirectory:       {"is a directory; archives hold regular files only", "是目录；归档里只能有普通文件"},
	ArchiveEntryType:       {"has entry type %s; archives hold regular files only", "的类型是 %s；归档里只能有普通文件"},
	ArchiveUnexpectedFile:  {"unexpected file; an archive holds only %s", "多余的文件；归档里只能有 %s"},
	ArchiveNegativeSize:    {"negative size", "大小为负数"},
	ArchiveDuplicate:       {"appears twice in the archive", "在归档中出现了两次"},
	ArchiveEntryTooLarge:   {"%s bytes is larger than the %s MiB limit", "%s 字节，超过了 %s MiB 的上限"},
	ArchiveNoManifest:      {"missing: this is not a dog export archive", "缺失：这不是 dog export 写的归档"},
	ArchiveManifestJSON:    {"not valid JSON: %v", "不是有效的 JSON：%v"},
	ArchiveOtherTool:       {"made by %q, not by %s", "由 %q 生成，不是 %s"},
	ArchiveNewerFormat:     {"archive format %s is newer than this dog reads (format %s): upgrade dog on this host", "归档格式 %s 比这个 dog 能读的格式 %s 新：请在本机升级 dog"},
	ArchiveUnknownFormat:   {"unknown archive format %s (this dog reads format %s)", "未知的归档格式 %s（这个 dog 读取格式 %s）"},
	ArchiveTextTooLong:     {"%s is longer than %s bytes", "%s 超过 %s 字节"},
	ArchiveBadText:         {"%s %q: %v", "%s %q：%v"},
	ArchiveListedTwice:     {"lists %s twice", "把 %s 列出了两次"},
	ArchiveListsUnexpected: {"lists unexpected file %q", "列出了多余的文件 %q"},
	ArchiveNotListed:       {"does not list %s", "没有列出 %s"},
	ArchiveMissing:         {"missing from the archive (the manifest lists it)", "归档中没有这个文件（清单里列出了它）"},
	ArchiveSizeMismatch:    {"is %s bytes, the manifest says %s: the archive is damaged", "有 %s 字节，清单上写的是 %s：归档已损坏"},
	ArchiveChecksum:        {"checksum mismatch (sha256 differs from the manifest): the archive is damaged or was altered", "校验和不符（sha256 与清单不同）：归档已损坏或被改动过"},
	ArchiveConfigInvalid:   {"does not validate: %v", "校验不通过：%v"},
	ArchiveItemNoID:        {"item %s has no valid id", "第 %s 个条目没有有效的 id"},
	ArchiveItemTwice:       {"item %s appears twice", "条目 %s 出现了两次"},
	ArchiveHostID:          {"the host entry has id %q", "整机条目的 id 是 %q"},
	ArchiveHistoryLine:     {"line %s: %v", "第 %s 行：%v"},
	ArchiveHistoryNoID:     {"line %s: an entry needs id and time", "第 %s 行：记录需要 id 和 time"},
	ArchiveHistoryTooLong:  {"line %s: %s is too long", "第 %s 行：%s 太长"},
	ArchiveHistoryText:     {"line %s: %s %q: %v", "第 %s 行：%s %q：%v"},
	ConsoleErrorTitle:      {"It did not work", "未能完成"},
	ConsoleDoneTitle:       {"Done", "完成"},
	ConsoleConfigInvalid:   {"%s does not validate: the enforcer keeps what it applied last (dog check-config says why)", "%s 校验不通过：执行器保持上次应用的配置（dog check-config 会说明原因）"},
	StatusConfigInvalid:    {"warning: %s does not validate, so the enforcer keeps what it applied last, which this shows:\n  %v", "警告：%s 校验不通过，执行器保持上次应用的配置（下面显示的就是它）：\n  %v"},
	ConsolePortsExist:      {"%q is already an item: edit it with e", "%q 已经是一个条目：用 e 编辑它"},
	ConsolePortsTaken:      {"overlaps item %q on port %s: a port can belong to one item only", "与条目 %q 在端口 %s 上重叠：一个端口只能属于一个条目"},

	NotifyZoneDiffers: {"resets and expiry follow time zone %s (UTC%s), but this host's clock is UTC%s: Prometheus writes the dates of the Telegram messages in the host's zone, so they would be off by that much (a reset at 00:00 can show on another day); set the host's zone: timedatectl set-timezone %s",
		"重置和到期按时区 %s（UTC%s）计算，但本机时钟是 UTC%s：Prometheus 按本机时区写 Telegram 消息里的日期，会差这么多（00:00 的重置可能显示成另一天）；请设置本机时区：timedatectl set-timezone %s"},
}
