package notify

import "strings"

// Messages holds every text dog notify prints for people, so that all of
// it can be translated in one place. Fields are fmt formats; their verbs
// are noted where the order matters.
type Messages struct {
	MissingPackages          string // packages
	NoPrometheusGroup        string
	NoSystemd                string
	UnitInactive             string // unit, unit
	Reloaded                 string // unit
	NoPrometheusConfig       string // path
	BadChatID                string // value
	BadReportEvery           string // value
	BadServerName            string // value
	BadAddr                  string // flag, value
	BadAPIURL                string // value
	BadLanguage              string // value
	ForeignAlertmanager      string // path
	ChatIDRequired           string
	TokenRequired            string
	TokenUnreadable          string // error
	TokenPrompt              string
	TokenPromptKeep          string
	EmailNeedsTelegram       string // path
	EmailFieldsRequired      string
	EmailPasswordWithoutUser string
	Unchanged                string
	ValidationFailed         string // error
	BackedUp                 string // path, backup
	Wrote                    string // path, mode
	TokenInFile              string // path
	TokenInline              string // major, minor, path
	NextSteps                string
	APIUnreachable           string // url, error
	BadToken                 string // code, description
	APIError                 string // method, code, description
	ChatNotFound             string // chat, bot, code, description
	BotAPIOK                 string // bot, chat, chat title
	NotConfigured            string // path
	CheckBotAPI              string
	CheckPath                string // Alertmanager URL
	CheckPathShort           string
	TestSummary              string // server
	TestFailed               string // failed checks
	TestOK                   string
	AMUnreachable            string // url, error
	DeliveryFailed           string // integration, count
	Delivered                string // integration
	DeliveryTimeout          string // integration, timeout, notifications started
	PromUnreachable          string // url, error
	NoReport                 string
	ReportSending            string // alerts, hosts
	StatusNoAM               string // path
	StatusForeignAM          string // path
	LabelAMConfig            string
	LabelChat                string
	LabelToken               string
	TokenSetFile             string // path
	TokenSetInline           string // path
	LabelLanguage            string
	LabelReport              string
	LabelAPI                 string
	LabelEmail               string
	LabelPromConfig          string
	LabelServer              string
	LabelExporter            string
	LabelRules               string
	LabelAMTarget            string
	Off                      string
	NoScrapeJob              string
	ExistingTarget           string
	NotSetUpYet              string
}

var english = Messages{
	MissingPackages:          "missing programs; install them first: apt install %s",
	NoPrometheusGroup:        "group prometheus does not exist: install the packages prometheus and prometheus-alertmanager first (they create it)",
	NoSystemd:                "systemd does not run here: reload Prometheus and Alertmanager yourself (send each SIGHUP, or restart them) so that they read the new files",
	UnitInactive:             "%s is not running: start it with `systemctl enable --now %s`",
	Reloaded:                 "reloaded %s",
	NoPrometheusConfig:       "%s does not exist: install the package prometheus, or name the file with --prometheus-config",
	BadChatID:                "--chat-id %q: Alertmanager accepts only numeric chat ids (a group or channel is negative, -100…); an @name does not work. Send the bot a message and read the id from https://api.telegram.org/bot<token>/getUpdates",
	BadReportEvery:           "--report-every %q: want a duration from 1m to 24h (1m 5m 15m 30m 1h 2h 6h 12h 24h) or off",
	BadServerName:            "--server-name %q: want 1 to 128 characters, no control, bidi or hidden characters",
	BadAddr:                  "%s %q: want host:port",
	BadAPIURL:                "--api-url %q: want http(s)://host[/path]",
	BadLanguage:              "--message-lang %q: want en or zh",
	ForeignAlertmanager:      "%s was not written by dog: add --force to replace it (a backup is kept beside it), or merge alerts/alertmanager.yml into it by hand",
	ChatIDRequired:           "--chat-id is required on the first run",
	TokenRequired:            "no bot token: give --token-file, or type it at the prompt, or pipe it on stdin",
	TokenUnreadable:          "reading the configured bot token: %v",
	TokenPrompt:              "Telegram bot token (from @BotFather, not shown): ",
	TokenPromptKeep:          "Telegram bot token (Enter keeps the configured one, not shown): ",
	EmailNeedsTelegram:       "%s is not set up by dog: run `dog notify telegram` first (e-mail goes beside Telegram)",
	EmailFieldsRequired:      "--smarthost, --from and --to are required (Alertmanager needs a sender address)",
	EmailPasswordWithoutUser: "--auth-password-file needs --auth-username",
	Unchanged:                "nothing to change: the files already say this",
	ValidationFailed:         "validation failed, nothing was changed: %w",
	BackedUp:                 "kept the previous %s as %s",
	Wrote:                    "wrote %s (mode %04o)",
	TokenInFile:              "the bot token is in %s (0640 root:prometheus)",
	TokenInline:              "Alertmanager %d.%d cannot read the token from a file (0.26 can), so it is in %s, mode 0640 root:prometheus",
	NextSteps:                "next: `dog notify test` sends a test message",
	APIUnreachable:           "cannot reach the Telegram Bot API at %s: %v (a firewall? set a proxy with --api-url)",
	BadToken:                 "the bot token is wrong: Telegram answered %d %s; copy it again from @BotFather and run `dog notify telegram` again",
	APIError:                 "Telegram's %s answered %d %s",
	ChatNotFound:             "chat %d not found for bot @%s (Telegram answered %d %s): add the bot to the group or channel, send a message there, and check the id",
	BotAPIOK:                 "bot @%s can reach chat %d (%s)",
	NotConfigured:            "%s is not set up by dog: run `dog notify telegram` first",
	CheckBotAPI:              "Telegram Bot API:",
	CheckPath:                "Prometheus → Alertmanager (%s) → Telegram:",
	CheckPathShort:           "delivery through Alertmanager",
	TestSummary:              "Port Traffic Dog test message from %s: notifications work.",
	TestFailed:               "test failed: %s",
	TestOK:                   "OK: a test message is on its way to the chat",
	AMUnreachable:            "cannot reach Alertmanager at %s: %v (is prometheus-alertmanager running?)",
	DeliveryFailed:           "Alertmanager failed %[2]g time(s) to send to %[1]s: see its log (journalctl -u prometheus-alertmanager)",
	Delivered:                "Alertmanager delivered to %s",
	DeliveryTimeout:          "Alertmanager counted no delivery to %s within %s (notifications started: %g; is the route sending elsewhere?)",
	PromUnreachable:          "cannot reach Prometheus at %s: %v (is prometheus running? --prometheus-url names another)",
	NoReport:                 "Prometheus has no DogStatusReport alert: is dog-exporter scraped (job port-traffic-dog) and the rule file loaded? The rule is evaluated once a minute",
	ReportSending:            "sending the status report (%d items; %s)",
	StatusNoAM:               "%s does not exist: run `dog notify telegram`",
	StatusForeignAM:          "%s was not written by dog",
	LabelAMConfig:            "Alertmanager config",
	LabelChat:                "chat id",
	LabelToken:               "bot token",
	TokenSetFile:             "set, in %s",
	TokenSetInline:           "set, in %s",
	LabelLanguage:            "message language",
	LabelReport:              "status report every",
	LabelAPI:                 "Bot API",
	LabelEmail:               "e-mail",
	LabelPromConfig:          "Prometheus config",
	LabelServer:              "server name",
	LabelExporter:            "exporter target",
	LabelRules:               "rules",
	LabelAMTarget:            "Alertmanager target",
	Off:                      "off",
	NoScrapeJob:              "no scrape job written by dog",
	ExistingTarget:           "(one already in the file)",
	NotSetUpYet:              "none yet (dog notify telegram adds it)",
}

var chinese = Messages{
	MissingPackages:          "缺少程序，请先安装：apt install %s",
	NoPrometheusGroup:        "prometheus 用户组不存在：请先安装 prometheus 和 prometheus-alertmanager 软件包（它们会创建该组）",
	NoSystemd:                "本机没有运行 systemd：请自行让 Prometheus 和 Alertmanager 重新读取配置（发送 SIGHUP 或重启它们）",
	UnitInactive:             "%s 没有运行：用 `systemctl enable --now %s` 启动",
	Reloaded:                 "已重新加载 %s",
	NoPrometheusConfig:       "%s 不存在：请安装 prometheus 软件包，或用 --prometheus-config 指定文件",
	BadChatID:                "--chat-id %q：Alertmanager 只接受数字形式的 chat id（群组和频道为负数，-100…），@用户名 不行。给机器人发一条消息，然后在 https://api.telegram.org/bot<token>/getUpdates 里找到 id",
	BadReportEvery:           "--report-every %q：应为 1m 到 24h 之间的时长（1m 5m 15m 30m 1h 2h 6h 12h 24h）或 off",
	BadServerName:            "--server-name %q：应为 1 到 128 个字符，不含控制字符、双向控制字符或隐藏字符",
	BadAddr:                  "%s %q：应为 主机:端口",
	BadAPIURL:                "--api-url %q：应为 http(s)://主机[/路径]",
	BadLanguage:              "--message-lang %q：应为 en 或 zh",
	ForeignAlertmanager:      "%s 不是 dog 写的：加 --force 替换它（旁边保留备份），或手工把 alerts/alertmanager.yml 合并进去",
	ChatIDRequired:           "第一次运行必须给出 --chat-id",
	TokenRequired:            "没有机器人 token：请用 --token-file，或在提示时输入，或从标准输入传入",
	TokenUnreadable:          "读取已配置的机器人 token 失败：%v",
	TokenPrompt:              "Telegram 机器人 token（来自 @BotFather，输入时不显示）：",
	TokenPromptKeep:          "Telegram 机器人 token（直接回车保留现有的，输入时不显示）：",
	EmailNeedsTelegram:       "%s 不是 dog 配置的：请先运行 `dog notify telegram`（邮件与 Telegram 并行发送）",
	EmailFieldsRequired:      "必须给出 --smarthost、--from 和 --to（Alertmanager 需要发件人地址）",
	EmailPasswordWithoutUser: "--auth-password-file 需要同时给出 --auth-username",
	Unchanged:                "无需改动：文件已是这些设置",
	ValidationFailed:         "校验失败，没有做任何改动：%w",
	BackedUp:                 "原来的 %s 已备份为 %s",
	Wrote:                    "已写入 %s（权限 %04o）",
	TokenInFile:              "机器人 token 保存在 %s（0640 root:prometheus）",
	TokenInline:              "Alertmanager %d.%d 不能从文件读取 token（0.26 起可以），所以 token 写在 %s 里，权限 0640 root:prometheus",
	NextSteps:                "下一步：`dog notify test` 发送一条测试消息",
	APIUnreachable:           "连不上 Telegram Bot API %s：%v（防火墙？可用 --api-url 设置代理）",
	BadToken:                 "机器人 token 不对：Telegram 返回 %d %s；请从 @BotFather 重新复制，再运行一次 `dog notify telegram`",
	APIError:                 "Telegram 的 %s 返回 %d %s",
	ChatNotFound:             "机器人 @%[2]s 找不到聊天 %[1]d（Telegram 返回 %[3]d %[4]s）：请把机器人加进群组或频道，在里面发一条消息，并核对 id",
	BotAPIOK:                 "机器人 @%s 可以访问聊天 %d（%s）",
	NotConfigured:            "%s 不是 dog 配置的：请先运行 `dog notify telegram`",
	CheckBotAPI:              "Telegram Bot API：",
	CheckPath:                "Prometheus → Alertmanager（%s）→ Telegram：",
	CheckPathShort:           "经 Alertmanager 投递",
	TestSummary:              "来自 %s 的端口流量狗测试消息：通知正常。",
	TestFailed:               "测试失败：%s",
	TestOK:                   "成功：测试消息正在发往聊天",
	AMUnreachable:            "连不上 Alertmanager %s：%v（prometheus-alertmanager 在运行吗？）",
	DeliveryFailed:           "Alertmanager 向 %[1]s 发送失败 %[2]g 次：请看它的日志（journalctl -u prometheus-alertmanager）",
	Delivered:                "Alertmanager 已投递到 %s",
	DeliveryTimeout:          "%[2]s 内 Alertmanager 没有记录到向 %[1]s 的投递（已开始的通知：%[3]g；路由是否发往了别处？）",
	PromUnreachable:          "连不上 Prometheus %s：%v（prometheus 在运行吗？可用 --prometheus-url 指定）",
	NoReport:                 "Prometheus 里没有 DogStatusReport 告警：dog-exporter 被抓取了吗（job port-traffic-dog）？规则文件加载了吗？该规则每分钟计算一次",
	ReportSending:            "正在发送状态报告（%d 项；%s）",
	StatusNoAM:               "%s 不存在：请运行 `dog notify telegram`",
	StatusForeignAM:          "%s 不是 dog 写的",
	LabelAMConfig:            "Alertmanager 配置",
	LabelChat:                "chat id",
	LabelToken:               "机器人 token",
	TokenSetFile:             "已设置，在 %s",
	TokenSetInline:           "已设置，在 %s",
	LabelLanguage:            "消息语言",
	LabelReport:              "状态报告间隔",
	LabelAPI:                 "Bot API",
	LabelEmail:               "邮件",
	LabelPromConfig:          "Prometheus 配置",
	LabelServer:              "服务器名",
	LabelExporter:            "exporter 地址",
	LabelRules:               "规则",
	LabelAMTarget:            "Alertmanager 地址",
	Off:                      "关闭",
	NoScrapeJob:              "没有 dog 写的抓取任务",
	ExistingTarget:           "（文件里已有）",
	NotSetUpYet:              "尚无（dog notify telegram 会添加）",
}

// MessagesFor returns the messages in lang ("zh…" is Chinese, anything
// else English), as from a locale such as zh_CN.UTF-8.
func MessagesFor(lang string) *Messages {
	if strings.HasPrefix(strings.ToLower(lang), "zh") {
		return &chinese
	}
	return &english
}
