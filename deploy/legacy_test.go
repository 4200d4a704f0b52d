package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const legacyShortcut = "#!/bin/bash\nexec bash \"/root/port-traffic-dog.sh\" \"$@\"\n"

// TestInstallBesideLegacyScript: with port-traffic-dog.sh installed, make
// install touches none of its files, puts our dog where its shortcut is
// not, writes a config without example ports, starts nothing, and tells the
// operator to run dog import-legacy. Uninstall keeps the script's files.
func TestInstallBesideLegacyScript(t *testing.T) {
	root := t.TempDir()
	env := []string{"DESTDIR=" + root, "PREFIX=/usr/local", "BINSRC=" + binaries(t)}
	legacyConfig := `{"ports":{"443":{"billing_mode":"double"}}}`
	os.MkdirAll(root+"/etc/port-traffic-dog", 0o755)
	os.MkdirAll(root+"/usr/local/bin", 0o755)
	os.WriteFile(root+"/etc/port-traffic-dog/config.json", []byte(legacyConfig), 0o644)
	os.WriteFile(root+"/usr/local/bin/dog", []byte(legacyShortcut), 0o755)

	out := script(t, env, "install")
	for _, want := range []string{"found port-traffic-dog.sh", "its config " + root + "/etc/port-traffic-dog/config.json",
		"its shortcut " + root + "/usr/local/bin/dog", "/usr/local/sbin/dog import-legacy"} {
		if !strings.Contains(out, want) {
			t.Errorf("install output does not say %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(root + "/usr/local/bin/dog"); string(b) != legacyShortcut {
		t.Errorf("the script's shortcut was overwritten: %q", b)
	}
	if b, _ := os.ReadFile(root + "/etc/port-traffic-dog/config.json"); string(b) != legacyConfig {
		t.Errorf("the script's config was changed: %q", b)
	}
	ours := root + "/usr/local/sbin/dog"
	if out, err := exec.Command(ours, "check-config", root+"/etc/port-traffic-dog/config.yaml").CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "OK: 0 items") {
		t.Errorf("our dog in sbin, and a config without example ports: %v\n%s", err, out)
	}
	if mode(t, root+"/etc/port-traffic-dog/config.yaml").Perm() != 0o600 {
		t.Error("config.yaml is not 0600")
	}

	// Uninstall removes ours and keeps the script's.
	script(t, append(env, "PURGE=1"), "uninstall")
	for _, kept := range []string{"/usr/local/bin/dog", "/etc/port-traffic-dog/config.json"} {
		if _, err := os.Stat(root + kept); err != nil {
			t.Errorf("uninstall removed the script's %s: %v", kept, err)
		}
	}
	for _, gone := range []string{"/usr/local/sbin/dog", "/usr/local/bin/dog-enforcer", "/etc/port-traffic-dog/config.yaml"} {
		if _, err := os.Stat(root + gone); err == nil {
			t.Errorf("uninstall left %s", gone)
		}
	}

	// After dog import-legacy removed the script's shortcut, an install
	// puts dog back in bin and removes the one in sbin.
	script(t, env, "install")
	os.Remove(root + "/usr/local/bin/dog")
	os.Remove(root + "/etc/port-traffic-dog/config.json")
	if out := script(t, env, "install"); strings.Contains(out, "port-traffic-dog.sh") {
		t.Errorf("no script left, yet:\n%s", out)
	}
	if _, err := os.Stat(root + "/usr/local/bin/dog"); err != nil {
		t.Errorf("dog not in bin: %v", err)
	}
	if _, err := os.Stat(root + "/usr/local/sbin/dog"); err == nil {
		t.Error("a second dog stayed in sbin")
	}
}

// TestLegacyDetectRule runs deploy/legacy-detect.sh on each kind of
// shortcut: it must agree with what dog import-legacy removes.
func TestLegacyDetectRule(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct {
		link, content string
		want          bool
	}{
		"wrapper":    {content: legacyShortcut, want: true},
		"the script": {content: "#!/bin/bash\nreadonly SCRIPT_NAME=\"端口流量狗\"\n", want: true},
		"link":       {link: "/root/port-traffic-dog.sh", want: true},
		"ours":       {content: "\x7fELF...port-traffic-dog/cli...", want: false},
		"another":    {content: "#!/bin/sh\necho woof\n", want: false},
		"our link":   {link: "/opt/dog/bin/dog", want: false},
		// The shortcut of the script saved as traffic.sh, and of something else.
		"wraps renamed": {content: "#!/bin/bash\nexec bash \"" + filepath.Join(dir, "the-script") + "\" \"$@\"\n", want: true},
		"wraps another": {content: "#!/bin/bash\nexec bash \"" + filepath.Join(dir, "another") + "\" \"$@\"\n", want: false},
	}
	path := func(name string) string { return filepath.Join(dir, strings.ReplaceAll(name, " ", "-")) }
	for name, c := range cases { // all first: the wrappers run other cases' files
		if c.link != "" {
			os.Symlink(c.link, path(name))
		} else {
			os.WriteFile(path(name), []byte(c.content), 0o755)
		}
	}
	for name, c := range cases {
		p := path(name)
		err := exec.Command("sh", "-c", `. ./legacy-detect.sh && ptd_legacy_is_script "$1"`, "sh", p).Run()
		if got := err == nil; got != c.want {
			t.Errorf("%s: detected %v, want %v (%v)", name, got, c.want, err)
		}
	}
}
