package i18n

import (
	"errors"
	"strings"
	"testing"

	"port-traffic-dog/internal/adminapi"
	"port-traffic-dog/internal/archive"
	"port-traffic-dog/internal/config"
)

// TestAPIErrors fails when an admin API error code has no message, or a
// message is not the code's English (whose arguments fill it).
func TestAPIErrors(t *testing.T) {
	for _, code := range adminapi.Codes() {
		k, ok := apiMessages[code]
		if !ok {
			t.Errorf("code %q has no message in apiMessages", code)
			continue
		}
		if want := strings.ReplaceAll(adminapi.Format(code), "%w", "%v"); messages[k].en != want {
			t.Errorf("code %q: message %q, the API's English is %q", code, messages[k].en, want)
		}
	}
	for code := range apiMessages {
		if adminapi.Format(code) == "" {
			t.Errorf("apiMessages has %q, which the API does not know", code)
		}
	}
}

func TestAPIErrorText(t *testing.T) {
	zh := New(ZH)
	cfgErr := errors.Join(&config.Error{Source: "/etc/dog.yaml:3", Item: "443", Field: "quota", Msg: `invalid size "lots": no number`},
		&config.Error{Source: "/etc/dog.yaml:5", Msg: "given twice"})
	for _, c := range []struct {
		err      error
		en, want string
	}{
		{adminapi.NewError(adminapi.CodeNoSuchItem, nil, "9999"), `no item "9999" is configured`, `没有配置条目 "9999"`},
		{adminapi.NewError(adminapi.CodeForbiddenGroup, nil, "dogadm", "998", "1000"),
			"permission denied: the admin API is for root and members of group dogadm (gid 998); you are uid 1000",
			"拒绝访问：管理 API 只对 root 和 dogadm 组（gid 998）的成员开放；你的 uid 是 1000"},
		// A cause is said in the printer's language too: a config error
		// by its parts, a message of dog's by its format.
		{adminapi.NewError(adminapi.CodeArchiveConfig, cfgErr),
			"the archive's configuration does not fit this enforcer: /etc/dog.yaml:3: item \"443\": quota: invalid size \"lots\": no number\n/etc/dog.yaml:5: given twice",
			"归档中的配置不适合这个执行器：/etc/dog.yaml:3：条目 \"443\"：quota：无效的大小 \"lots\"：没有数字\n/etc/dog.yaml:5：给出了两次"},
		{adminapi.NewError(adminapi.CodeBadRequest, errors.New(`ports[0]: range "80-20" is reversed (write 20-80)`)),
			`bad request: ports[0]: range "80-20" is reversed (write 20-80)`, `请求无效：ports[0]：范围 "80-20" 写反了（应写成 20-80）`},
		// A cause dog cannot translate stays English.
		{adminapi.NewError(adminapi.CodeConfigNotApplied, errors.New("eth9: no such interface")),
			"config not applied, nothing changed: eth9: no such interface", "配置未应用，未做任何修改：eth9: no such interface"},
	} {
		if got := New(EN).Error(c.err); got != c.en {
			t.Errorf("en: %q, want %q", got, c.en)
		}
		if got := zh.Error(c.err); got != c.want {
			t.Errorf("zh: %q, want %q", got, c.want)
		}
	}
	// A refused archive by its kind, here and as the admin API passes it
	// on (rebuilt by the client as a CodedError of CodeArchive); its cause
	// by its parts.
	refused := &archive.Error{Entry: archive.ConfigName, Kind: archive.KindConfigInvalid, Err: cfgErr}
	sent := adminapi.ErrorOf(adminapi.NewError(adminapi.CodeImportFailed, refused))
	rebuilt := &adminapi.CodedError{Code: adminapi.CodeArchive, Args: sent.Causes[0].Args,
		Err: errors.Join(&config.Error{Source: "/etc/dog.yaml:3", Item: "443", Field: "quota", Msg: `invalid size "lots": no number`},
			&config.Error{Source: "/etc/dog.yaml:5", Msg: "given twice"})}
	want := "无效的归档：config.yaml：校验不通过：/etc/dog.yaml:3：条目 \"443\"：quota：无效的大小 \"lots\"：没有数字\n/etc/dog.yaml:5：给出了两次"
	for _, err := range []error{refused, rebuilt} {
		if got := zh.Error(err); got != want {
			t.Errorf("archive: %q, want %q", got, want)
		}
	}
	// A kind this dog does not know (a newer enforcer's), or args its
	// message does not take: the English.
	for _, args := range [][]string{{"", "moon_full"}, {"config.yaml", string(archive.KindChecksum), "extra"}} {
		e := &adminapi.CodedError{Code: adminapi.CodeArchive, Args: args}
		if got := zh.Error(e); got != e.Error() {
			t.Errorf("archive %v: %q", args, got)
		}
	}
	// Wrapped in a message of dog's.
	if got := zh.Sprintf(EditRefused, adminapi.NewError(adminapi.CodeNoSuchItem, nil, "80")); got != `执行器拒绝了此修改，文件已恢复原样：没有配置条目 "80"` {
		t.Errorf("wrapped: %q", got)
	}
}

// TestArchiveKinds fails when a kind of refused archive has no message,
// or a message is not the kind's English.
func TestArchiveKinds(t *testing.T) {
	for _, kind := range archive.Kinds() {
		k, ok := archiveKinds[kind]
		if !ok {
			if archive.KindFormat(kind) != "%w" { // its cause alone
				t.Errorf("kind %q has no message in archiveKinds", kind)
			}
			continue
		}
		if want := strings.ReplaceAll(archive.KindFormat(kind), "%w", "%v"); messages[k].en != want {
			t.Errorf("kind %q: message %q, the archive's English is %q", kind, messages[k].en, want)
		}
	}
	for kind := range archiveKinds {
		if archive.KindFormat(kind) == "" {
			t.Errorf("archiveKinds has %q, which internal/archive does not know", kind)
		}
	}
}

// TestAPINotes: an import's notes by their codes; the English of an
// enforcer that sent none.
func TestAPINotes(t *testing.T) {
	zh := New(ZH)
	kept := adminapi.Note{Code: adminapi.CodeNoteKeptPath, Args: []string{"state_dir", "/var/lib/dog", "/srv/dog"}}
	warn := adminapi.Note{Code: adminapi.CodeNoteConfigWarning, Args: []string{`c.yaml:3: item "443": remark contains U+200B, an invisible character that can reorder or hide text; remove it (dog set 443 --remark ...)`}}
	for _, c := range []struct {
		n          *adminapi.Note
		text, want string
	}{
		{&kept, kept.Text(), "保留了本机的 state_dir /var/lib/dog（归档中是 /srv/dog）"},
		{&warn, warn.Text(), `归档中的配置：c.yaml:3：条目 "443"：备注含有 U+200B，这是一个能打乱或隐藏文字的不可见字符；请删掉它（dog set 443 --remark ...）`},
		{nil, kept.Text(), kept.Text()}, // an enforcer from before codes
		{&adminapi.Note{Code: "moon_full"}, "the moon is full", "the moon is full"},
	} {
		if got := zh.APINote(c.n, c.text); got != c.want {
			t.Errorf("%+v: %q, want %q", c.n, got, c.want)
		}
		if got := New(EN).APINote(c.n, c.text); got != c.text {
			t.Errorf("en: %q", got)
		}
	}
}
