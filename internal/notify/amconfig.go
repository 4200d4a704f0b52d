package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"port-traffic-dog/alerts"
)

// amHeader opens every alertmanager.yml dog writes; a file without it was
// written by someone else and is only replaced with --force.
const amHeader = "# Written by `dog notify` (Port Traffic Dog). Change it with `dog notify telegram`\n" +
	"# and `dog notify email`: edits made here are lost on their next run.\n"

// debianSampleSHA256 is Debian 12's /etc/prometheus/alertmanager.yml as the
// package installs it: an example with placeholder receivers that nobody
// runs as is, so replacing it (with a backup) needs no --force.
const debianSampleSHA256 = "639b2a09cb0f798953ceb7a8c02815221a5eb2cdd896784ccaf846ab7efdaa50"

// AMSettings is what dog's alertmanager.yml holds.
type AMSettings struct {
	ChatID      int64
	Token       string // inline bot_token; never printed
	TokenFile   string // bot_token_file
	Language    string
	ReportEvery time.Duration
	ReportOff   bool
	APIURL      string
	Email       *alerts.Email
}

// amFile is the part of alertmanager.yml that dog reads back.
type amFile struct {
	Global map[string]any `yaml:"global"`
	Route  struct {
		Routes []struct {
			Receiver      string   `yaml:"receiver"`
			Matchers      []string `yaml:"matchers"`
			GroupInterval string   `yaml:"group_interval"`
		} `yaml:"routes"`
	} `yaml:"route"`
	Receivers []struct {
		Name            string `yaml:"name"`
		TelegramConfigs []struct {
			BotToken     string `yaml:"bot_token"`
			BotTokenFile string `yaml:"bot_token_file"`
			ChatID       int64  `yaml:"chat_id"`
			Message      string `yaml:"message"`
		} `yaml:"telegram_configs"`
		EmailConfigs []struct {
			To string `yaml:"to"`
		} `yaml:"email_configs"`
	} `yaml:"receivers"`
}

// amOwner says who wrote an existing alertmanager.yml.
type amOwner int

const (
	amAbsent amOwner = iota
	amOurs
	amDebianSample
	amForeign
)

func ownerOf(b []byte, exists bool) amOwner {
	switch {
	case !exists || len(strings.TrimSpace(string(b))) == 0:
		return amAbsent
	case strings.HasPrefix(string(b), amHeader[:strings.IndexByte(amHeader, '\n')]):
		return amOurs
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) == debianSampleSHA256 {
		return amDebianSample
	}
	return amForeign
}

// parseAM reads the settings back from an alertmanager.yml dog wrote.
func parseAM(b []byte) (AMSettings, error) {
	var f amFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return AMSettings{}, err
	}
	var s AMSettings
	if u, ok := f.Global["telegram_api_url"].(string); ok {
		s.APIURL = u
	}
	for _, r := range f.Receivers {
		if r.Name != "telegram" || len(r.TelegramConfigs) == 0 {
			continue
		}
		tc := r.TelegramConfigs[0]
		s.ChatID, s.Token, s.TokenFile = tc.ChatID, tc.BotToken, tc.BotTokenFile
		s.Language = "en"
		if strings.Contains(tc.Message, "dog.telegram.zh") {
			s.Language = "zh"
		}
		if len(r.EmailConfigs) > 0 {
			str := func(k string) string { v, _ := f.Global[k].(string); return v }
			s.Email = &alerts.Email{To: r.EmailConfigs[0].To, Smarthost: str("smtp_smarthost"), From: str("smtp_from"),
				AuthUsername: str("smtp_auth_username"), AuthPasswordFile: str("smtp_auth_password_file")}
		}
	}
	for _, r := range f.Route.Routes {
		if len(r.Matchers) == 1 && r.Matchers[0] == `alertname="DogStatusReport"` {
			d, err := model.ParseDuration(r.GroupInterval)
			if err != nil {
				return s, fmt.Errorf("status route group_interval: %w", err)
			}
			s.ReportEvery, s.ReportOff = time.Duration(d), r.Receiver == "silent"
		}
	}
	if s.ChatID == 0 {
		return s, fmt.Errorf("no telegram receiver with a chat id")
	}
	return s, nil
}

// token returns the bot token the settings use, reading bot_token_file.
func (s AMSettings) token() (string, error) {
	if s.Token != "" {
		return s.Token, nil
	}
	if s.TokenFile == "" {
		return "", fmt.Errorf("no bot token configured")
	}
	b, err := os.ReadFile(s.TokenFile)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}
