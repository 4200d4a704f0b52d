// Package alerts bundles what Prometheus and Alertmanager need to tell an
// operator about Port Traffic Dog: the alerting rules (with their promtool
// tests), an Alertmanager configuration with a Telegram receiver, the
// Telegram message templates in English and Chinese, and example
// configurations for the other receivers Alertmanager ships.
//
// The files are embedded so that dog notify (internal/notify) installs them
// without the source tree, and so that tests elsewhere check exactly what
// ships.
// AlertmanagerConfig and Rules render the two files that need
// per-installation values or, in tests, shorter timings.
package alerts

import "embed"

// FS holds the bundled files under their repository names: rules.yml,
// tests.yml, alertmanager.yml, templates/telegram.{en,zh}.tmpl,
// examples/*.yml and README.md.
//
//go:embed rules.yml tests.yml alertmanager.yml templates/*.tmpl examples/*.yml README.md
var FS embed.FS

// Paths where the Debian packages (prometheus, prometheus-alertmanager) look
// for the files; the Alertmanager config's templates glob points at
// TemplatesDir.
const (
	RulesPath              = "/etc/prometheus/rules/port-traffic-dog.yml"
	AlertmanagerConfigPath = "/etc/prometheus/alertmanager.yml"
	TemplatesDir           = "/etc/prometheus/alertmanager_templates/port-traffic-dog"
)

// TemplateFiles lists the Telegram templates inside FS.
var TemplateFiles = []string{"templates/telegram.en.tmpl", "templates/telegram.zh.tmpl"}
