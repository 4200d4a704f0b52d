package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// DeliveryTimeout is how long the whole-path check waits for Alertmanager
// to count a delivery.
const DeliveryTimeout = 60 * time.Second

var httpClient = &http.Client{Timeout: 15 * time.Second}

// BotAPIError is a failed Bot API check; its text never holds the token.
type BotAPIError struct{ msg string }

func (e *BotAPIError) Error() string { return e.msg }

// botCall calls a Bot API method with GET. The URL holds the token, so a
// transport error is reported without it (url.Error would print it).
func botCall(ctx context.Context, apiURL, token, method string, q url.Values) (int, string, json.RawMessage, error) {
	u := strings.TrimRight(apiURL, "/") + "/bot" + token + "/" + method
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", nil, errors.New("bad Bot API URL")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, "", nil, errors.New(strings.ReplaceAll(err.Error(), token, "<token>"))
	}
	defer func() { _ = resp.Body.Close() }()
	var r struct {
		OK          bool            `json:"ok"`
		Description string          `json:"description"`
		Result      json.RawMessage `json:"result"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(body, &r); err != nil {
		return resp.StatusCode, "", nil, fmt.Errorf("%s: not a Bot API answer", resp.Status)
	}
	return resp.StatusCode, r.Description, r.Result, nil
}

// CheckBotAPI asks the Bot API who the bot is (getMe) and whether it sees
// the chat (getChat), and says in words what is wrong.
func CheckBotAPI(ctx context.Context, m *Messages, apiURL, token string, chatID int64) (string, error) {
	code, desc, res, err := botCall(ctx, apiURL, token, "getMe", nil)
	switch {
	case err != nil:
		return "", &BotAPIError{fmt.Sprintf(m.APIUnreachable, apiURL, err)}
	case code == http.StatusUnauthorized || code == http.StatusNotFound:
		return "", &BotAPIError{fmt.Sprintf(m.BadToken, code, desc)}
	case code != http.StatusOK:
		return "", &BotAPIError{fmt.Sprintf(m.APIError, "getMe", code, desc)}
	}
	var me struct {
		Username string `json:"username"`
	}
	_ = json.Unmarshal(res, &me)
	code, desc, res, err = botCall(ctx, apiURL, token, "getChat", url.Values{"chat_id": {strconv.FormatInt(chatID, 10)}})
	switch {
	case err != nil:
		return "", &BotAPIError{fmt.Sprintf(m.APIUnreachable, apiURL, err)}
	case code == http.StatusBadRequest || code == http.StatusForbidden:
		return "", &BotAPIError{fmt.Sprintf(m.ChatNotFound, chatID, me.Username, code, desc)}
	case code != http.StatusOK:
		return "", &BotAPIError{fmt.Sprintf(m.APIError, "getChat", code, desc)}
	}
	var chat struct {
		Title    string `json:"title"`
		Username string `json:"username"`
		Type     string `json:"type"`
	}
	_ = json.Unmarshal(res, &chat)
	return fmt.Sprintf(m.BotAPIOK, me.Username, chatID, orDefault(chat.Title, chat.Username, chat.Type)), nil
}

// amAlert is an alert for Alertmanager's API v2.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

func postAlerts(ctx context.Context, amURL string, as []amAlert) error {
	b, err := json.Marshal(as)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(amURL, "/")+"/api/v2/alerts", bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("POST /api/v2/alerts: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// deliveries are Alertmanager's notification counters per integration
// (telegram, email). In 0.25 all four are labelled by integration only;
// later versions add labels, which are summed. notifications_total counts
// a notification when it starts and notifications_failed_total when its
// retries give up (after the group interval), so the outcome of each try
// comes from notification_requests_total and _failed_total.
type deliveries map[string]counts

type counts struct{ notifications, notificationsFailed, requests, requestsFailed float64 }

var deliveryMetrics = []string{
	"alertmanager_notifications_total", "alertmanager_notifications_failed_total",
	"alertmanager_notification_requests_total", "alertmanager_notification_requests_failed_total",
}

// MaxAnswer bounds what dog reads of an answer from Alertmanager or
// Prometheus (their /metrics and alerts are some kilobytes): whoever
// answers on their address, such as a local user who listens on 9093 or
// 9090 while the service is down (any user may bind them), could otherwise
// feed root's dog for as long as the client's timeout, growing its memory
// with every series or alert.
const MaxAnswer = 32 << 20

// get fetches base+path and insists on 200 OK. Reading the body fails past
// MaxAnswer.
func get(ctx context.Context, base, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	resp.Body = &boundedBody{ReadCloser: resp.Body, left: MaxAnswer}
	return resp, nil
}

// boundedBody fails once more than left bytes would be read.
type boundedBody struct {
	io.ReadCloser
	left int64
}

var errAnswerTooLarge = fmt.Errorf("the answer is larger than %d MiB", MaxAnswer>>20)

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// At the bound: only the end of the body may follow.
		n, err := b.ReadCloser.Read(make([]byte, 1))
		if n > 0 || err == nil {
			return 0, errAnswerTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

func readDeliveries(ctx context.Context, amURL string) (deliveries, error) {
	resp, err := get(ctx, amURL, "/metrics")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	d := deliveries{}
	for i, name := range deliveryMetrics {
		mf := mfs[name]
		if mf == nil {
			return nil, fmt.Errorf("no %s among Alertmanager's metrics", name)
		}
		for _, mt := range mf.GetMetric() {
			integ := ""
			for _, l := range mt.GetLabel() {
				if l.GetName() == "integration" {
					integ = l.GetValue()
				}
			}
			c := d[integ]
			switch v := mt.GetCounter().GetValue(); i {
			case 0:
				c.notifications += v
			case 1:
				c.notificationsFailed += v
			case 2:
				c.requests += v
			default:
				c.requestsFailed += v
			}
			d[integ] = c
		}
	}
	return d, nil
}

// DeliveryResult is what Alertmanager's counters said after an alert was
// posted, per integration: messages sent, failed tries, notifications
// given up, and notifications started.
type DeliveryResult struct {
	Integration                        string
	Started, Delivered, Failed, GaveUp float64
}

// waitDelivery polls the counters until every integration delivered or
// failed, or the timeout ends. A failed try counts as a failure even though
// Alertmanager retries: a wrong token or chat does not heal, and an API it
// cannot reach now is worth knowing.
func waitDelivery(ctx context.Context, amURL string, before deliveries, integrations []string, timeout time.Duration) ([]DeliveryResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		now, err := readDeliveries(ctx, amURL)
		var out []DeliveryResult
		settled := err == nil
		if err == nil {
			for _, in := range integrations {
				b, a := before[in], now[in]
				r := DeliveryResult{Integration: in, Started: a.notifications - b.notifications,
					Failed: a.requestsFailed - b.requestsFailed, GaveUp: a.notificationsFailed - b.notificationsFailed}
				r.Delivered = (a.requests - b.requests) - r.Failed
				if r.Delivered < 1 && r.Failed < 1 && r.GaveUp < 1 {
					settled = false
				}
				out = append(out, r)
			}
		}
		if settled {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func requestID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ClientOptions say where Alertmanager and Prometheus answer; empty values
// are read from prometheus.yml (the target dog wrote) or Debian's defaults.
type ClientOptions struct {
	Paths
	AlertmanagerURL string
	PrometheusURL   string
	Timeout         time.Duration // DeliveryTimeout when 0
}

func (o ClientOptions) amURL(cur *current) string {
	if o.AlertmanagerURL != "" {
		return o.AlertmanagerURL
	}
	return "http://" + orDefault(cur.prom.AlertmanagerAddr, DefaultAlertmanagerAddr)
}

func (o ClientOptions) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DeliveryTimeout
}

func (c *current) integrations() []string {
	in := []string{"telegram"}
	if c.am.Email != nil {
		in = append(in, "email")
	}
	return in
}

// Test is dog notify test: the Bot API directly, then the whole path
// through Alertmanager. Both run; it fails when either does.
func Test(ctx context.Context, e *Env, o ClientOptions) error {
	m := e.Msg
	cur, err := loadConfigured(o.Paths, m, m.NotConfigured)
	if err != nil {
		return err
	}
	var failed []string
	token, err := cur.am.token()
	if err != nil {
		return fmt.Errorf(m.TokenUnreadable, err)
	}
	fmt.Fprintln(e.Out, m.CheckBotAPI)
	if ok, err := CheckBotAPI(ctx, m, cur.am.APIURL, token, cur.am.ChatID); err != nil {
		fmt.Fprintln(e.Out, "  ✗ "+err.Error())
		failed = append(failed, m.CheckBotAPI)
	} else {
		fmt.Fprintln(e.Out, "  ✓ "+ok)
	}

	amURL := o.amURL(cur)
	fmt.Fprintf(e.Out, m.CheckPath+"\n", amURL)
	server := orDefault(cur.prom.ServerName, hostname())
	// The message's language, not the terminal's.
	summary := fmt.Sprintf(MessagesFor(cur.am.Language).TestSummary, server)
	now := e.Now()
	alert := amAlert{
		Labels:      map[string]string{"alertname": "DogTestMessage", "instance": server, "severity": "info", "dog_request": requestID()},
		Annotations: map[string]string{"summary": summary},
		StartsAt:    now, EndsAt: now.Add(5 * time.Minute),
	}
	if err := sendAndWait(ctx, e, amURL, cur.integrations(), o.timeout(), []amAlert{alert}); err != nil {
		fmt.Fprintln(e.Out, "  ✗ "+err.Error())
		failed = append(failed, m.CheckPathShort)
	}
	if len(failed) > 0 {
		return fmt.Errorf(m.TestFailed, strings.Join(failed, "; "))
	}
	fmt.Fprintln(e.Out, m.TestOK)
	return nil
}

// sendAndWait posts alerts and reports delivery from Alertmanager's
// counters.
func sendAndWait(ctx context.Context, e *Env, amURL string, integrations []string, timeout time.Duration, as []amAlert) error {
	m := e.Msg
	before, err := readDeliveries(ctx, amURL)
	if err != nil {
		return fmt.Errorf(m.AMUnreachable, amURL, err)
	}
	if err := postAlerts(ctx, amURL, as); err != nil {
		return fmt.Errorf(m.AMUnreachable, amURL, err)
	}
	res, werr := waitDelivery(ctx, amURL, before, integrations, timeout)
	var bad []string
	for _, r := range res {
		switch {
		case r.Failed >= 1 || r.GaveUp >= 1:
			bad = append(bad, fmt.Sprintf(m.DeliveryFailed, r.Integration, r.Failed+r.GaveUp))
		case r.Delivered >= 1:
			fmt.Fprintf(e.Out, "  ✓ "+m.Delivered+"\n", r.Integration)
		default:
			bad = append(bad, fmt.Sprintf(m.DeliveryTimeout, r.Integration, timeout, r.Started))
		}
	}
	if werr != nil && len(res) == 0 {
		bad = append(bad, fmt.Sprintf(m.AMUnreachable, amURL, werr))
	}
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "\n    "))
	}
	return nil
}

// promAlert is an alert as Prometheus's /api/v1/alerts shows it.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

func firingReports(ctx context.Context, promURL string) ([]promAlert, error) {
	resp, err := get(ctx, promURL, "/api/v1/alerts")
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); errors.Is(err, errAnswerTooLarge) {
		return nil, fmt.Errorf("GET /api/v1/alerts: %w", err)
	} else if err != nil || r.Status != "success" {
		return nil, fmt.Errorf("GET /api/v1/alerts: %s", resp.Status)
	}
	var out []promAlert
	for _, a := range r.Data.Alerts {
		if a.Labels["alertname"] == "DogStatusReport" && a.State == "firing" {
			out = append(out, a)
		}
	}
	return out, nil
}

// Report is dog notify report: the status report now. Alertmanager has no
// "flush now", so the report's alerts, as Prometheus evaluated them, are
// posted again with a unique dog_request label; that label's route sends
// them at once, rendered by the report template.
func Report(ctx context.Context, e *Env, o ClientOptions) error {
	m := e.Msg
	cur, err := loadConfigured(o.Paths, m, m.NotConfigured)
	if err != nil {
		return err
	}
	promURL := orDefault(o.PrometheusURL, "http://127.0.0.1:9090")
	reports, err := firingReports(ctx, promURL)
	if err != nil {
		return fmt.Errorf(m.PromUnreachable, promURL, err)
	}
	if len(reports) == 0 {
		return errors.New(m.NoReport)
	}
	id, now := requestID(), e.Now()
	hosts := map[string]bool{}
	var as []amAlert
	for _, r := range reports {
		l := map[string]string{"dog_request": id}
		for k, v := range r.Labels {
			l[k] = v
		}
		hosts[l["instance"]] = true
		as = append(as, amAlert{Labels: l, Annotations: r.Annotations, StartsAt: now, EndsAt: now.Add(5 * time.Minute)})
	}
	names := make([]string, 0, len(hosts))
	for h := range hosts {
		names = append(names, h)
	}
	sort.Strings(names)
	fmt.Fprintf(e.Out, m.ReportSending+"\n", len(as), strings.Join(names, ", "))
	if err := sendAndWait(ctx, e, o.amURL(cur), cur.integrations(), o.timeout(), as); err != nil {
		return err
	}
	return nil
}

// label pads a label of dog notify status to 22 screen columns: %-22s
// counts characters, and a Chinese one takes two columns.
func label(s string) string { return runewidth.FillRight(s, 22) }

// Status is dog notify status: what is configured, never the token.
func Status(ctx context.Context, e *Env, p Paths) error {
	m := e.Msg
	cur, err := loadCurrent(p, m)
	if err != nil {
		return err
	}
	w := e.Out
	switch cur.amOwner {
	case amAbsent:
		fmt.Fprintf(w, m.StatusNoAM+"\n", p.AlertmanagerConfig)
	case amForeign, amDebianSample:
		fmt.Fprintf(w, m.StatusForeignAM+"\n", p.AlertmanagerConfig)
	}
	if a := cur.am; a != nil {
		fmt.Fprintf(w, "%s %s\n", label(m.LabelAMConfig), p.AlertmanagerConfig)
		fmt.Fprintf(w, "%s %d\n", label(m.LabelChat), a.ChatID)
		if a.TokenFile != "" {
			fmt.Fprintf(w, "%s "+m.TokenSetFile+"\n", label(m.LabelToken), a.TokenFile)
		} else {
			fmt.Fprintf(w, "%s "+m.TokenSetInline+"\n", label(m.LabelToken), p.AlertmanagerConfig)
		}
		fmt.Fprintf(w, "%s %s\n", label(m.LabelLanguage), a.Language)
		if a.ReportOff {
			fmt.Fprintf(w, "%s %s\n", label(m.LabelReport), m.Off)
		} else {
			fmt.Fprintf(w, "%s %s\n", label(m.LabelReport), model.Duration(a.ReportEvery))
		}
		fmt.Fprintf(w, "%s %s\n", label(m.LabelAPI), a.APIURL)
		if a.Email != nil {
			fmt.Fprintf(w, "%s %s → %s (%s)\n", label(m.LabelEmail), a.Email.From, a.Email.To, a.Email.Smarthost)
		} else {
			fmt.Fprintf(w, "%s %s\n", label(m.LabelEmail), m.Off)
		}
	}
	fmt.Fprintf(w, "%s %s\n", label(m.LabelPromConfig), p.PrometheusConfig)
	if cur.prom.ServerName != "" {
		fmt.Fprintf(w, "%s %s\n", label(m.LabelServer), cur.prom.ServerName)
		fmt.Fprintf(w, "%s %s\n", label(m.LabelExporter), cur.prom.ExporterAddr)
	} else {
		fmt.Fprintf(w, "%s %s\n", label(m.LabelServer), m.NoScrapeJob)
	}
	// What dog wrote, else what the operator's own lines have: a file
	// that has neither says so, not a path or target that is not there.
	top := operatorTop(cur.promOld)
	rules, amTarget := m.NotSetUpYet, m.NotSetUpYet
	if cur.prom.RulesFile != "" || listHas(top, "rule_files", p.RulesFile()) {
		rules = p.RulesFile()
	}
	if cur.prom.AlertmanagerAddr != "" {
		amTarget = cur.prom.AlertmanagerAddr
	} else if len(alertmanagerTargets(top)) > 0 {
		amTarget = m.ExistingTarget
	}
	fmt.Fprintf(w, "%s %s\n", label(m.LabelRules), rules)
	fmt.Fprintf(w, "%s %s\n", label(m.LabelAMTarget), amTarget)
	if cur.am == nil {
		return fmt.Errorf(m.NotConfigured, p.AlertmanagerConfig)
	}
	return nil
}
