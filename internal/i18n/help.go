package i18n

import "sync"

// helpMessages are the help texts of dog's commands, flags and arguments
// (the help tags of cli's command structs, and kong's --help flag) and
// their Chinese. The English text, as the struct tag has it, is the key:
// cli's TestHelpTranslated walks the command model and fails when one of
// its help texts is not here.
var helpMessages = []struct{ en, zh string }{
	// The application and kong's own flag.
	{"Port Traffic Dog: per-port traffic, quotas and limits.", "端口流量狗：按端口统计流量、配额和限速。"},
	{"Show context-sensitive help.", "显示当前命令的帮助。"},
	{"Print version information and exit.", "显示版本信息后退出。"},

	// Global flags.
	{"The enforcer's admin socket.", "执行器的管理 socket。"},
	{"The configuration file.", "配置文件。"},
	{"The configuration file (default: --config's).", "配置文件（默认：--config 指定的）。"},
	{"Language of the output: en or zh (default: from LC_ALL, LC_MESSAGES or LANG).", "输出语言：en 或 zh（默认取自 LC_ALL、LC_MESSAGES 或 LANG）。"},
	{"dog alone on a terminal prints the status instead of opening the console.", "在终端里只输入 dog 时显示状态，而不是打开控制台。"},

	// Commands.
	{"Show every item and the host: use, quota, limits, state (the default command).", "显示每个条目和整机：用量、配额、限速、状态（默认命令）。"},
	{"Add an item to the config file and apply it.", "在配置文件中添加一个条目并应用。"},
	{"Change settings of an item in the config file and apply them (a value of none removes a setting).", "修改配置文件中一个条目的设置并应用（值为 none 表示删除该设置）。"},
	{"Remove an item from the config file and apply it (its counters are dropped).", "从配置文件中删除一个条目并应用（它的计数器会被丢弃）。"},
	{"End the billing period of items now: zero their period use and quota, unblock them.", "立即结束条目的计费周期：周期用量和配额清零，解除阻断。"},
	{"Show the reset history.", "显示重置历史。"},
	{"Write config, a fresh checkpoint of every counter and the history to one archive, to move to another host.", "把配置、所有计数器的最新检查点和历史记录写入一个归档，用于迁移到另一台主机。"},
	{"Continue from an export archive: replaces config, counters, periods and history (validated first).", "从导出的归档继续：替换配置、计数器、周期和历史记录（先做校验）。"},
	{"Validate a configuration file without applying it (no root needed).", "校验配置文件但不应用（不需要 root）。"},
	{"Telegram and e-mail notifications: set up, test, send the report, show.", "Telegram 和电子邮件通知：设置、测试、发送报告、查看。"},
	{"Carry over a port-traffic-dog.sh (端口流量狗) installation: every port, setting and this month's counters; then remove the script's table, qdiscs and cron lines.", "迁移 port-traffic-dog.sh（端口流量狗）的安装：所有端口、设置和本月的计数；然后删除脚本的 nftables 表、qdisc 和 cron 行。"},
	{"Set up Telegram notifications: rules, templates, scrape job and Alertmanager config, validated, then reload.", "设置 Telegram 通知：规则、模板、抓取任务和 Alertmanager 配置，校验后重新加载。"},
	{"Check the Bot API (token, chat) and send a test message through Alertmanager.", "检查 Bot API（token、聊天），并通过 Alertmanager 发送一条测试消息。"},
	{"Send the status report now.", "立即发送状态报告。"},
	{"Show what is configured (never the token).", "显示已配置的内容（从不显示 token）。"},
	{"Send the same alerts by e-mail too (beside Telegram).", "同时用电子邮件发送同样的告警（Telegram 之外）。"},

	// status
	{"Print JSON (the admin API's status object).", "输出 JSON（管理 API 的状态对象）。"},
	{"Where to find the last checkpoint when the enforcer is down (default: the config's state_dir).", "执行器未运行时到哪里找最近的检查点（默认：配置中的 state_dir）。"},
	{"Redraw the table every --interval with live in/out rates, until Ctrl-C.", "每隔 --interval 重绘表格，显示实时的入站/出站速率，按 Ctrl-C 结束。"},
	{"How often --watch reads the status (at least 1s).", "--watch 读取状态的间隔（至少 1s）。"},

	// add, set, rm
	{"A port (443), a range (5000-5100) or a group (443,5000-5100).", "一个端口（443）、一个范围（5000-5100）或一组（443,5000-5100）。"},
	{"The item, by its ports (any spelling of a group).", "条目，用它的端口指定（一组端口可用任意写法）。"},
	{"The item, by its ports.", "条目，用它的端口指定。"},
	{"Remove without asking (needed when not on a terminal).", "不询问直接删除（不在终端上时必须给出）。"},
	{"Free text, e.g. the customer (one line, up to 200 characters).", "任意文字，例如客户名（一行，最多 200 个字符）。"},
	{"tcp, udp or tcp,udp (default both).", "tcp、udp 或 tcp,udp（默认两者）。"},
	{"Bytes per billing period: 500GiB, 1TB (KB/MB/GB/TB x1000, KiB/MiB/GiB/TiB x1024).", "每个计费周期的字节数：500GiB、1TB（KB/MB/GB/TB 按 1000 进，KiB/MiB/GiB/TiB 按 1024 进）。"},
	{"What uses the quota: out, in, sum, max or relay (default sum).", "哪些流量计入配额：out、in、sum、max 或 relay（默认 sum）。"},
	{"Day of the month the period resets, 1-31 (clamped to short months); 0 never (default 1).", "每月重置周期的日期，1-31（小月取月末）；0 表示不重置（默认 1）。"},
	{"Block the item from 00:00 of this day: YYYY-MM-DD.", "从这一天的 00:00 起阻断该条目：YYYY-MM-DD。"},
	{"Bandwidth limit both ways: 100Mbps, 1Gbps.", "双向带宽限制：100Mbps、1Gbps。"},
	{"Limit of traffic to the port (client uploads).", "到端口的流量的限速（客户端上传）。"},
	{"Limit of traffic from the port (client downloads).", "从端口发出的流量的限速（客户端下载）。"},
	{"Burst size of the limit (default derived from the rate).", "限速的突发大小（默认按限速推算）。"},

	// reset, history
	{"Items by their ports spec (\"443\", \"5000-5100\", \"host\").", "条目，用端口写法指定（\"443\"、\"5000-5100\"、\"host\"）。"},
	{"Reset every item and the host.", "重置所有条目和整机。"},
	{"Reset --all without asking (needed when not on a terminal).", "不询问直接执行 --all 重置（不在终端上时必须给出）。"},
	{"Print the history entries as JSON.", "以 JSON 输出历史记录。"},
	{"Only these items.", "只看这些条目。"},
	{"Print JSON.", "输出 JSON。"},

	// export, import, check-config
	{"The archive to write (tar.gz), or - for standard output.", "要写入的归档（tar.gz），- 表示标准输出。"},
	{"Overwrite FILE if it exists.", "FILE 已存在时覆盖它。"},
	{"An archive written by dog export, or - for standard input.", "由 dog export 写出的归档，- 表示标准输入。"},
	{"Validate the archive (and, if the enforcer runs, that it fits this host) and show what it holds; change nothing.", "校验归档（执行器运行时还检查它是否适合本机）并显示其内容；不做任何修改。"},
	{"Print the result as JSON.", "以 JSON 输出结果。"},
	{"Also validate these --port items, as dog-enforcer would merge them.", "同时校验这些 --port 条目，按 dog-enforcer 合并它们的方式。"},

	// notify
	{"Prometheus' config file; the rules go into rules/ beside it.", "Prometheus 的配置文件；规则放在它旁边的 rules/ 中。"},
	{"Alertmanager's config file; the templates go into alertmanager_templates/ beside it.", "Alertmanager 的配置文件；模板放在它旁边的 alertmanager_templates/ 中。"},
	{"Numeric chat id of the group, channel or user (groups and channels: -100…).", "群组、频道或用户的数字聊天 id（群组和频道：-100…）。"},
	{"File holding the bot token. Without it the token is read from a prompt or stdin, never from the command line.", "存放 bot token 的文件。不给出时从提示或标准输入读取 token，从不从命令行读取。"},
	{"Name of this server in every message (the instance label; default: the hostname).", "每条消息中本服务器的名称（instance 标签；默认：主机名）。"},
	{"Language of the messages: en or zh.", "消息的语言：en 或 zh。"},
	{"Status report interval, 1m to 24h, or off (default 6h).", "状态报告的间隔，1m 到 24h，或 off（默认 6h）。"},
	{"Bot API endpoint (a proxy); default https://api.telegram.org.", "Bot API 的地址（代理）；默认 https://api.telegram.org。"},
	{"Where Prometheus scrapes dog-exporter (default 127.0.0.1:9730).", "Prometheus 抓取 dog-exporter 的地址（默认 127.0.0.1:9730）。"},
	{"Where Prometheus sends alerts (default 127.0.0.1:9093).", "Prometheus 发送告警的地址（默认 127.0.0.1:9093）。"},
	{"Replace an alertmanager.yml that dog did not write (a backup is kept).", "替换不是 dog 写的 alertmanager.yml（会保留备份）。"},
	{"Alertmanager's URL (default: the target dog wrote into prometheus.yml).", "Alertmanager 的 URL（默认：dog 写进 prometheus.yml 的目标）。"},
	{"Prometheus' URL, where the report's alerts are read.", "Prometheus 的 URL，报告从这里读取告警。"},
	{"SMTP server.", "SMTP 服务器。"},
	{"Sender address (Alertmanager requires one).", "发件人地址（Alertmanager 要求必须有）。"},
	{"Recipient address.", "收件人地址。"},
	{"SMTP user name.", "SMTP 用户名。"},
	{"File holding the SMTP password (copied to a 0640 root:prometheus file).", "存放 SMTP 密码的文件（会复制到一个 0640 root:prometheus 的文件）。"},
	{"Stop sending e-mail.", "停止发送电子邮件。"},

	// import-legacy
	{"The script's directory, or a copy of it (then only its settings and traffic_data.json counters are taken).", "脚本的目录或它的副本（副本只取设置和 traffic_data.json 中的计数）。"},
	{"Print the report and stop.", "输出报告后停止。"},
	{"Do not ask for confirmation.", "不询问确认。"},
	{"When the script's table is not live here: yes if it was 1.2.5 (double mode counted every byte twice), no if older.", "脚本的表不在本机运行时：1.2.5 版（double 模式把每个字节算两次）填 yes，更早的版本填 no。"},
	{"Our billing for ports in the script's relay mode where it cannot be told or has no equivalent (1.2.4's in + 2 × out): relay ((in + out) × 2, as 1.2.4.3), sum, max or out.", "脚本 relay 模式的端口在无法判断或没有对应方式时（1.2.4 的 入 + 2 × 出）采用的计费方式：relay（(入 + 出) × 2，同 1.2.4.3）、sum、max 或 out。"},
	{"Edit this crontab file instead of root's (through the crontab command).", "编辑这个 crontab 文件而不是 root 的（通过 crontab 命令）。"},
	{"The script's shortcut, removed if it is the script or a link to it.", "脚本的快捷命令；如果它是脚本本身或指向脚本的链接就删除。"},
	{"Replace an alertmanager.yml that dog did not write to carry the script's Telegram settings (a backup is kept), as dog notify telegram --force.", "为转入脚本的 Telegram 设置而替换不是 dog 写的 alertmanager.yml（会保留备份），同 dog notify telegram --force。"},
	{"Language of the carried Telegram messages: zh (as the script sent them) or en.", "转入的 Telegram 消息的语言：zh（与脚本发送的一致）或 en。"},
}

var (
	helpOnce sync.Once
	helpZH   map[string]string
)

func helpCatalog() map[string]string {
	helpOnce.Do(func() {
		helpZH = make(map[string]string, len(helpMessages))
		for _, m := range helpMessages {
			helpZH[m.en] = m.zh
		}
	})
	return helpZH
}

// Help is a help text of the command line in the printer's language; one
// the catalog lacks stays English.
func (p *Printer) Help(en string) string {
	if zh, ok := helpCatalog()[en]; ok && p.lang == ZH {
		return zh
	}
	return en
}

// HasHelp says whether the catalog has the Chinese of help text en.
func HasHelp(en string) bool {
	_, ok := helpCatalog()[en]
	return ok
}
