package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// module is a Go module linked into the commands.
type module struct {
	Path, Version, Dir string
}

// linkedModules lists the modules whose packages are compiled into the
// commands for arch (the main module excluded), with their source dirs.
func (b *build) linkedModules(arch string) ([]module, error) {
	out, err := b.goCmd(arch, "list", "-deps", "-f",
		`{{with .Module}}{{if not .Main}}{{.Path}}	{{.Version}}	{{with .Replace}}{{.Dir}}{{else}}{{.Dir}}{{end}}{{end}}{{end}}`,
		"./cmd/...")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var mods []module
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 || seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		mods = append(mods, module{Path: f[0], Version: f[1], Dir: f[2]})
	}
	return mods, sc.Err()
}

// commonLicenses are license texts every Debian system has in
// /usr/share/common-licenses: a module's file holding one of them, and
// nothing else, is named instead of copied (Debian policy 12.5).
var commonLicenses = []struct{ name, start, end string }{
	{"Apache-2.0", "Apache License", "limitations under the License."},
	{"MPL-2.0", "Mozilla Public License", "Mozilla Public License, v. 2.0."},
}

func commonLicense(text string) (string, bool) {
	head := text[:min(len(text), 200)]
	for _, l := range commonLicenses {
		if strings.HasPrefix(text, l.start) && strings.HasSuffix(text, l.end) && strings.Contains(head, "2.0") {
			return "On Debian systems the full text of the " + l.name + " license is in\n" +
				"/usr/share/common-licenses/" + l.name + ".", true
		}
	}
	return "", false
}

// licenseText is the module's license files (LICENSE*, LICENCE*, COPYING*,
// NOTICE*) at its root, in name order, a common license by reference.
func licenseText(dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, e := range entries {
		up := strings.ToUpper(e.Name())
		if e.IsDir() || !(strings.HasPrefix(up, "LICENSE") || strings.HasPrefix(up, "LICENCE") ||
			strings.HasPrefix(up, "COPYING") || strings.HasPrefix(up, "NOTICE")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return "", err
		}
		text := strings.TrimSpace(string(b))
		if ref, ok := commonLicense(text); ok {
			text = ref
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, "\n\n"), nil
}

// Copyright is /usr/share/doc/port-traffic-dog/copyright: the project's
// own terms, then every module linked into the commands (with the Go
// standard library) under the license it ships, modules with the same text
// listed together, the largest groups first.
func (b *build) Copyright(arch string) (string, error) {
	mods, err := b.linkedModules(arch)
	if err != nil {
		return "", err
	}
	goroot, err := b.goCmd(arch, "env", "GOROOT")
	if err != nil {
		return "", err
	}
	goVersion, err := b.goCmd(arch, "env", "GOVERSION")
	if err != nil {
		return "", err
	}
	std := module{Path: "Go standard library", Version: strings.TrimSpace(string(goVersion)), Dir: strings.TrimSpace(string(goroot))}
	var order []string
	byText := map[string][]module{}
	for _, m := range append([]module{std}, mods...) {
		text, err := licenseText(m.Dir)
		if err != nil {
			return "", fmt.Errorf("license of %s: %w", m.Path, err)
		}
		if text == "" {
			return "", fmt.Errorf("module %s %s has no LICENSE, COPYING or NOTICE file in %s: its terms are unknown", m.Path, m.Version, m.Dir)
		}
		if byText[text] == nil {
			order = append(order, text)
		}
		byText[text] = append(byText[text], m)
	}

	var w strings.Builder
	w.WriteString("Port Traffic Dog: per-port traffic accounting, quotas and limits\n\n")
	fmt.Fprintf(&w, "This package was built from commit %s of the project's git repository.\n\n", b.src.Hash)
	own, err := licenseText(b.root)
	if err != nil {
		return "", err
	}
	w.WriteString("Copyright: the Port Traffic Dog authors.\n\n")
	if own == "" {
		w.WriteString("The project's source tree carries no license file: its authors have not\n" +
			"yet published terms beyond the right to install and run this package.\n")
	} else {
		w.WriteString(indent(own))
	}
	w.WriteString("\nThe commands in /usr/bin are statically linked Go programs. Besides the\n" +
		"project's own code they contain the following Go modules, each listed\n" +
		"before the license text it ships with.\n")
	sort.SliceStable(order, func(i, j int) bool { return len(byText[order[i]]) > len(byText[order[j]]) })
	for _, text := range order {
		w.WriteString("\n")
		for _, m := range byText[text] {
			fmt.Fprintf(&w, "Module: %s %s\n", m.Path, m.Version)
		}
		w.WriteString("License:\n")
		w.WriteString(indent(text))
	}
	return w.String(), nil
}

// indent sets text off by one space, blank lines as " .", as Debian's
// control-like files do, so a module list never reads as license text.
func indent(text string) string {
	var w strings.Builder
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimRight(l, " \t\r")
		if l == "" {
			w.WriteString(" .\n")
			continue
		}
		w.WriteString(" " + l + "\n")
	}
	return w.String()
}
