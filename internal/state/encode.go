package state

import (
	"encoding/json"
	"strconv"
	"time"
)

// Encoding 10,000 items with encoding/json took ~35 ms a file (reflection,
// a MarshalJSON call and a re-validation per time field), and Encode then
// re-compacted the whole body once more to wrap it in the envelope: ~70 ms
// of every checkpoint. The appenders below write exactly the bytes
// json.Marshal writes (encode_test.go checks it field by field, and fails
// when a field is added without being added here), in a few milliseconds.

// marshalBody is json.Marshal(v), fast for the state and meta files.
func marshalBody(v any) ([]byte, error) { return appendBody(nil, v, nil) }

// flusher takes what is encoded so far and returns the buffer to go on
// with: streaming writes it out and returns it emptied. nil keeps all.
type flusher func(b []byte) ([]byte, error)

// appendBody appends json.Marshal(v) to b, handing the buffer to flush
// between items when flush is not nil.
func appendBody(b []byte, v any, flush flusher) ([]byte, error) {
	switch v := v.(type) {
	case *State:
		if flush == nil {
			b = grow(b, len(v.Items))
		}
		return appendState(b, v, flush)
	case *Meta:
		if flush == nil {
			b = grow(b, len(v.Items))
		}
		return appendMeta(b, v, flush)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

// grow makes room for a file of n items (330–400 bytes each).
func grow(b []byte, n int) []byte {
	if need := 256 + 400*n; cap(b)-len(b) < need {
		b = append(make([]byte, 0, len(b)+need), b...)
	}
	return b
}

func appendState(b []byte, st *State, flush flusher) ([]byte, error) {
	var err error
	b = append(b, `{"saved_at":`...)
	if b, err = appendTime(b, st.SavedAt); err != nil {
		return nil, err
	}
	if st.BootID != "" {
		b = append(b, `,"boot_id":`...)
		b = appendString(b, st.BootID)
	}
	if st.Timezone != "" {
		b = append(b, `,"timezone":`...)
		b = appendString(b, st.Timezone)
	}
	if st.Host != nil {
		b = append(b, `,"host":`...)
		if b, err = appendItem(b, st.Host); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"items":`...)
	if b, err = appendItems(b, st.Items, flush); err != nil {
		return nil, err
	}
	return appendTail(b, st.Stats, st.Shaper)
}

func appendMeta(b []byte, m *Meta, flush flusher) ([]byte, error) {
	var err error
	b = append(b, '{')
	if m.Timezone != "" {
		b = append(b, `"timezone":`...)
		b = appendString(b, m.Timezone)
		b = append(b, ',')
	}
	if m.Host != nil {
		b = append(b, `"host":`...)
		if b, err = appendItem(b, m.Host); err != nil {
			return nil, err
		}
		b = append(b, ',')
	}
	b = append(b, `"items":`...)
	if b, err = appendItems(b, m.Items, flush); err != nil {
		return nil, err
	}
	return appendTail(b, m.Stats, m.Shaper)
}

// appendTail writes the small trailing fields both files share.
func appendTail(b []byte, stats Stats, shaper *Shaper) ([]byte, error) {
	s, err := json.Marshal(stats)
	if err != nil {
		return nil, err
	}
	b = append(append(b, `,"stats":`...), s...)
	if shaper != nil {
		s, err := json.Marshal(shaper)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"shaper":`...), s...)
	}
	return append(b, '}'), nil
}

func appendItems(b []byte, items []Item, flush flusher) ([]byte, error) {
	if items == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i := range items {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendItem(b, &items[i]); err != nil {
			return nil, err
		}
		if flush != nil && len(b) >= streamChunk {
			if b, err = flush(b); err != nil {
				return nil, err
			}
		}
	}
	return append(b, ']'), nil
}

// streamChunk is how much a streamed file is encoded ahead of writing.
const streamChunk = 32 << 10

func appendItem(b []byte, it *Item) ([]byte, error) {
	var err error
	b = append(b, `{"id":`...)
	b = appendString(b, it.ID)
	b = append(b, `,"ports":`...)
	b = appendString(b, it.Ports)
	if it.Remark != "" {
		b = append(b, `,"remark":`...)
		b = appendString(b, it.Remark)
	}
	b = append(b, `,"protocols":`...)
	b = appendString(b, it.Protocols)
	b = append(b, `,"billing":`...)
	b = appendString(b, it.Billing)
	if it.Quota != 0 {
		b = append(b, `,"quota":`...)
		b = strconv.AppendUint(b, it.Quota, 10)
	}
	b = append(b, `,"reset_day":`...)
	b = strconv.AppendInt(b, int64(it.ResetDay), 10)
	if !it.Expires.IsZero() {
		b = append(b, `,"expires":`...)
		if b, err = appendTime(b, it.Expires); err != nil {
			return nil, err
		}
	}
	if it.RateIn != 0 {
		b = append(b, `,"rate_in":`...)
		b = strconv.AppendUint(b, it.RateIn, 10)
	}
	if it.RateOut != 0 {
		b = append(b, `,"rate_out":`...)
		b = strconv.AppendUint(b, it.RateOut, 10)
	}
	if it.ClassMinor != 0 {
		b = append(b, `,"class_minor":`...)
		b = strconv.AppendUint(b, uint64(it.ClassMinor), 10)
	}
	b = appendCounter(append(b, `,"in":`...), it.In)
	b = appendCounter(append(b, `,"out":`...), it.Out)
	if it.QuotaGen != 0 {
		b = append(b, `,"quota_gen":`...)
		b = strconv.AppendUint(b, uint64(it.QuotaGen), 10)
	}
	b = append(b, `,"period_start":`...)
	if b, err = appendTime(b, it.PeriodStart); err != nil {
		return nil, err
	}
	b = appendCounter(append(b, `,"base_in":`...), it.BaseIn)
	b = appendCounter(append(b, `,"base_out":`...), it.BaseOut)
	if !it.NextReset.IsZero() {
		b = append(b, `,"next_reset":`...)
		if b, err = appendTime(b, it.NextReset); err != nil {
			return nil, err
		}
	}
	if it.QuotaBlocked {
		b = append(b, `,"quota_blocked":true`...)
	}
	return append(b, '}'), nil
}

func appendCounter(b []byte, c Counter) []byte {
	b = append(b, `{"bytes":`...)
	b = strconv.AppendUint(b, c.Bytes, 10)
	b = append(b, `,"packets":`...)
	b = strconv.AppendUint(b, c.Packets, 10)
	return append(b, '}')
}

// appendTime writes t as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds); years it refuses go through it for its error.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		s, err := json.Marshal(t)
		if err != nil {
			return nil, err
		}
		return append(b, s...), nil
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendString writes s as encoding/json does: plain ASCII as it is,
// anything that needs escaping (quotes, controls, HTML characters, non-ASCII)
// through encoding/json itself.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
