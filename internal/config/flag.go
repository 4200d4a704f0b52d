package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// ParsePortFlag reads one --port value: the ports spec, then options as
// key=value, all separated by colons:
//
//	--port 443
//	--port 5000-5100:remark=bob:quota=1TiB:billing=max:rate=50Mbps
//	--port '443,8443:remark=alice%3A%20vip:protocols=tcp'
//
// The keys are the YAML item keys. A value may contain %XX escapes (URL
// encoding) for a colon, percent sign or anything awkward in a unit file.
// Colons were chosen because they need no quoting in a shell or in systemd's
// ExecStart, and no ports spec or option value contains one.
func ParsePortFlag(s, source string) (Item, error) {
	it, errs := parsePortFlag(s, source)
	if len(errs) > 0 {
		return Item{}, errors.Join(errs...)
	}
	return it, nil
}

// parsePortFlag is ParsePortFlag with every problem of the flag. With
// errors, the item has its Spec if its ports parsed.
func parsePortFlag(s, source string) (Item, []error) {
	fields := strings.Split(s, ":")
	raw := map[string]string{"ports": fields[0]}
	var errs []error
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			errs = append(errs, &Error{Source: source, Item: fields[0], Msg: fmt.Sprintf("option %q is not key=value (in --port %q)", f, s)})
			continue
		}
		if !slices.Contains(itemKeys, k) || k == "ports" {
			msg := "unknown option"
			if sug := suggest(k, itemKeys[1:]); sug != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", sug)
			}
			errs = append(errs, &Error{Source: source, Item: fields[0], Field: k, Msg: msg})
			continue
		}
		if _, dup := raw[k]; dup {
			errs = append(errs, &Error{Source: source, Item: fields[0], Field: k, Msg: "given twice"})
			continue
		}
		val, err := url.PathUnescape(v)
		if err != nil {
			errs = append(errs, &Error{Source: source, Item: fields[0], Field: k, Msg: fmt.Sprintf("bad %%-escape in %q", v)})
			continue
		}
		raw[k] = val
	}
	it, itemErrs := buildItem(raw, itemKeys, source, 0, func(string) string { return source })
	for _, e := range itemErrs {
		errs = append(errs, e)
	}
	return it, errs
}

// FormatPortFlag renders an item as a --port value that ParsePortFlag reads
// back to the same item.
func FormatPortFlag(it *Item) string {
	var b strings.Builder
	b.WriteString(it.Ports)
	add := func(k, v string) {
		b.WriteString(":" + k + "=" + escapeFlagValue(v))
	}
	if it.Remark != "" {
		add("remark", it.Remark)
	}
	if it.Protocols != TCP|UDP {
		add("protocols", it.Protocols.String())
	}
	if it.Quota > 0 {
		add("quota", fmt.Sprintf("%dB", it.Quota))
	}
	if it.Billing != BillingSum {
		add("billing", string(it.Billing))
	}
	if it.ResetDay != DefaultResetDay {
		add("reset_day", fmt.Sprint(it.ResetDay))
	}
	if !it.Expires.IsZero() {
		add("expires", it.Expires.String())
	}
	if it.RateIn > 0 {
		add("rate_in", fmt.Sprintf("%dbps", it.RateIn))
	}
	if it.RateOut > 0 {
		add("rate_out", fmt.Sprintf("%dbps", it.RateOut))
	}
	if it.Burst > 0 {
		add("burst", fmt.Sprintf("%dB", it.Burst))
	}
	return b.String()
}

func escapeFlagValue(v string) string {
	var b strings.Builder
	for _, c := range []byte(v) {
		if c == ':' || c == '%' || c <= ' ' || c == 0x7f || c == '"' || c == '\'' || c == '\\' {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}
