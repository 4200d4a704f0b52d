package state

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// fill sets every field of v (a pointer) to a non-zero value, recursively;
// strings get characters encoding/json escapes.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.Type().Elem() == reflect.TypeFor[time.Time]() || v.Type().Elem().Kind() == reflect.Struct {
			v.Set(reflect.New(v.Type().Elem()))
			fill(v.Elem(), seed)
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			loc := time.FixedZone("x", 8*3600)
			v.Set(reflect.ValueOf(time.Date(2026, 2, 28, 23, 59, 58, seed*1000+7, loc)))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), seed+i)
			}
		}
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d <&> \"q\" \\ 阿里\u2028\n", seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed + 1))
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fill(s.Index(i), seed+i)
		}
		v.Set(s)
	default:
		panic("fill: add kind " + v.Kind().String())
	}
}

// TestFastEncodingIsJSON: the state and meta files' fast encoding writes
// exactly what encoding/json writes, with every field set (a field added to
// Item, State or Meta without being added to encode.go fails here), with
// every field of an item zero in turn (omitempty, omitzero), and for empty
// files.
func TestFastEncodingIsJSON(t *testing.T) {
	check := func(what string, v any) {
		t.Helper()
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := marshalBody(v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s:\nfast: %s\njson: %s", what, got, want)
		}
	}
	var st State
	fill(reflect.ValueOf(&st).Elem(), 1)
	check("state, every field set", &st)
	var m Meta
	fill(reflect.ValueOf(&m).Elem(), 2)
	check("meta, every field set", &m)
	check("empty state", &State{})
	check("empty meta", &Meta{})
	check("no items", &State{Items: []Item{}})
	check("sample", sample())

	var full Item
	fill(reflect.ValueOf(&full).Elem(), 3)
	for i := 0; i < reflect.TypeFor[Item]().NumField(); i++ {
		it := full
		f := reflect.ValueOf(&it).Elem().Field(i)
		f.Set(reflect.Zero(f.Type()))
		check("item without "+reflect.TypeFor[Item]().Field(i).Name, &State{Items: []Item{it}, Host: &it})
	}
	// Time zones and sub-second precision as the enforcer writes them.
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	check("zones", &Meta{Items: []Item{{PeriodStart: time.Date(2026, 11, 1, 0, 0, 0, 0, shanghai),
		NextReset: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Expires: time.Date(2027, 1, 1, 0, 0, 0, 120000000, shanghai)}}})

	// A time encoding/json refuses is refused too.
	if _, err := marshalBody(&State{SavedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Error("year 10000 encoded")
	}
}

// TestEncodeEnvelope: Encode's envelope is what json.Marshal of the
// envelope gives, and decodes back.
func TestEncodeEnvelope(t *testing.T) {
	st := sample()
	data, err := Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(st)
	env := envelope{Format: Format, State: body}
	got, err := Decode(data, "test")
	if err != nil {
		t.Fatal(err)
	}
	var e2 envelope
	if err := json.Unmarshal(data, &e2); err != nil {
		t.Fatal(err)
	}
	env.SHA256 = e2.SHA256
	want, _ := json.Marshal(env)
	if !bytes.Equal(data, want) {
		t.Errorf("envelope:\n%s\nwant\n%s", data, want)
	}
	if !reflect.DeepEqual(got.Items, st.Items) || !got.SavedAt.Equal(st.SavedAt) {
		t.Errorf("round trip: %+v", got)
	}
}

func state10k() *State {
	st := &State{SavedAt: time.Now()}
	for i := range 10000 {
		st.Items = append(st.Items, Item{ID: fmt.Sprintf("p%d", 1024+i), Ports: fmt.Sprint(1024 + i), Remark: fmt.Sprintf("customer-%d", i),
			Protocols: "tcp+udp", Billing: "sum", Quota: 1 << 40, ResetDay: 1, In: Counter{1 << 33, 1 << 20}, Out: Counter{1 << 34, 1 << 21},
			PeriodStart: time.Now(), NextReset: time.Now().AddDate(0, 1, 0)})
	}
	return st
}

func BenchmarkEncode10k(b *testing.B) {
	st := state10k()
	for b.Loop() {
		if _, err := Encode(st); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStreamedSaveIsEncode: Save and SaveMeta stream the file, with the
// checksum filled in last; the bytes are Encode's, for files large enough to
// be written in many chunks, and empty ones.
func TestStreamedSaveIsEncode(t *testing.T) {
	big := &State{SavedAt: time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC), BootID: "b", Timezone: "Asia/Shanghai"}
	for i := range 3000 {
		big.Items = append(big.Items, Item{ID: fmt.Sprintf("p%d", 1024+i), Ports: fmt.Sprint(1024 + i), Remark: fmt.Sprintf("客户 <%d>", i),
			Protocols: "tcp+udp", Billing: "sum", Quota: 1 << 40, In: Counter{uint64(i) << 20, uint64(i)}, PeriodStart: big.SavedAt})
	}
	big.Host = &big.Items[0]
	meta := &Meta{Timezone: "UTC", Items: big.Items[:1000], Shaper: &Shaper{Links: []ShapedLink{{Name: "eth0", Egress: true}}}}
	for _, tc := range []struct {
		name string
		v    any
		save func(dir string) error
		file string
	}{
		{"state", big, func(dir string) error { return Save(dir, big) }, FileName},
		{"empty state", &State{}, func(dir string) error { return Save(dir, &State{}) }, FileName},
		{"meta", meta, func(dir string) error { return SaveMeta(dir, meta) }, MetaName},
		{"empty meta", &Meta{}, func(dir string) error { return SaveMeta(dir, &Meta{}) }, MetaName},
	} {
		dir := t.TempDir()
		if err := tc.save(dir); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		want, err := Encode(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the saved file (%d bytes) is not Encode's (%d bytes)", tc.name, len(got), len(want))
		}
	}
	dir := t.TempDir()
	if err := Save(dir, big); err != nil {
		t.Fatal(err)
	}
	st, err := ReadFile(filepath.Join(dir, FileName))
	if err != nil || len(st.Items) != 3000 || st.Items[2999].Remark != "客户 <2999>" {
		t.Fatalf("round trip: %v", err)
	}
	m, err := ReadMeta(filepath.Join(dir, MetaName))
	if err == nil {
		t.Errorf("Save wrote a meta file: %+v", m)
	}
}

// BenchmarkReadDurable10k: what the exporter pays once per checkpoint to
// serve the durable counters of 10,000 items (read, verify the checksum,
// decode the counters only).
func BenchmarkReadDurable10k(b *testing.B) {
	dir := b.TempDir()
	if err := Save(dir, state10k()); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if c, err := ReadDurable(dir); err != nil || len(c.Items) != 10000 {
			b.Fatal(err)
		}
	}
}
