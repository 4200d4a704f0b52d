package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"
)

const (
	name    = "port-traffic-dog"
	bindir  = "/usr/bin"
	unitdir = "/lib/systemd/system"
	docdir  = "/usr/share/doc/" + name
	datadir = "/usr/share/" + name
	confdir = "/etc/" + name
)

// file is one entry of the package: src is relative to the source tree
// unless it is absolute (generated into the scratch dir).
type file struct {
	dst, src string
	mode     os.FileMode
	conffile bool
}

// Contents is every file of the package for the commands built into bins
// and the generated files in gen. Directories other than the config's come
// from nfpm, 0755 root.
func (b *build) Contents(bins, gen string) ([]file, error) {
	fl := []file{
		{dst: confdir + "/config.yaml", src: "deploy/config.example.yaml", mode: 0o600, conffile: true},
		{dst: "/usr/lib/sysusers.d/" + name + ".conf", src: "deploy/sysusers.conf", mode: 0o644},
		{dst: docdir + "/README.md", src: "README.md", mode: 0o644},
		{dst: docdir + "/README.zh-CN.md", src: "README.zh-CN.md", mode: 0o644},
		{dst: docdir + "/copyright", src: filepath.Join(gen, "copyright"), mode: 0o644},
		{dst: docdir + "/changelog.gz", src: filepath.Join(gen, "changelog.gz"), mode: 0o644},
		{dst: "/usr/share/lintian/overrides/" + name, src: "deploy/deb/lintian-overrides", mode: 0o644},
	}
	for _, c := range []string{"dog", "dog-enforcer", "dog-exporter"} {
		fl = append(fl, file{dst: bindir + "/" + c, src: filepath.Join(bins, c), mode: 0o755})
	}
	for _, u := range []string{"dog-enforcer.service", "dog-exporter.service"} {
		fl = append(fl, file{dst: unitdir + "/" + u, src: filepath.Join(gen, u), mode: 0o644})
	}
	docs, err := filepath.Glob(filepath.Join(b.root, "docs", "*.md"))
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		fl = append(fl, file{dst: docdir + "/docs/" + filepath.Base(d), src: "docs/" + filepath.Base(d), mode: 0o644})
	}
	// What operators copy into Prometheus, Alertmanager and Grafana; the Go
	// files beside them are the tests that keep them working.
	for dir, dst := range map[string]string{
		"alerts": datadir + "/alerts", "dashboards": datadir + "/dashboards", "deploy/prometheus": datadir + "/prometheus",
	} {
		err := filepath.WalkDir(filepath.Join(b.root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(filepath.Join(b.root, dir), path)
			if strings.HasPrefix(d.Name(), ".") && rel != "." {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() || strings.HasSuffix(path, ".go") {
				return nil
			}
			src, _ := filepath.Rel(b.root, path)
			fl = append(fl, file{dst: dst + "/" + filepath.ToSlash(rel), src: src, mode: 0o644})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return fl, nil
}

// generate writes the files made at build time into gen: the units with
// Debian's paths, the copyright file and the changelog.
func (b *build) generate(arch, gen string) error {
	for _, u := range []string{"dog-enforcer.service", "dog-exporter.service"} {
		t, err := os.ReadFile(filepath.Join(b.root, "deploy/systemd", u))
		if err != nil {
			return err
		}
		unit := strings.NewReplacer("@BINDIR@", bindir, "@DOCDIR@", docdir,
			"Installed by `make install` (deploy/install.sh)", "Installed by the port-traffic-dog package").Replace(string(t))
		if strings.Contains(unit, "@") && strings.Contains(unit, "DIR@") {
			return fmt.Errorf("%s: a placeholder is left after filling in the paths", u)
		}
		if err := os.WriteFile(filepath.Join(gen, u), []byte(unit), 0o644); err != nil {
			return err
		}
	}
	cr, err := b.Copyright(arch)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(gen, "copyright"), []byte(cr), 0o644); err != nil {
		return err
	}
	cl, err := gzipBest(b.Changelog())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(gen, "changelog.gz"), cl, 0o644); err != nil {
		return err
	}
	return b.scripts(gen)
}

// scripts writes the maintainer scripts of deploy/deb into gen, with the
// legacy detection that make install uses too (deploy/legacy-detect.sh)
// put in where a script says #LEGACY_DETECT#: one rule for both, and each
// script stands alone.
func (b *build) scripts(gen string) error {
	detect, err := os.ReadFile(filepath.Join(b.root, "deploy/legacy-detect.sh"))
	if err != nil {
		return err
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		t, err := os.ReadFile(filepath.Join(b.root, "deploy/deb", s))
		if err != nil {
			return err
		}
		t = bytes.ReplaceAll(t, []byte("#LEGACY_DETECT#\n"), detect)
		if err := os.WriteFile(filepath.Join(gen, s), t, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// pack builds the package for one architecture into outDir and returns its path.
func (b *build) pack(arch, outDir string) (string, error) {
	scratch, err := os.MkdirTemp("", "debpkg-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(scratch)
	bins, gen := filepath.Join(scratch, "bin"), filepath.Join(scratch, "gen")
	for _, d := range []string{bins, gen} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", err
		}
	}
	if err := b.compile(arch, bins); err != nil {
		return "", err
	}
	if err := b.generate(arch, gen); err != nil {
		return "", err
	}
	fl, err := b.Contents(bins, gen)
	if err != nil {
		return "", err
	}
	contents := files.Contents{{
		Destination: confdir, Type: files.TypeDir,
		FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: os.ModeDir | 0o750, MTime: b.src.Date},
	}}
	for _, f := range fl {
		src := f.src
		if !filepath.IsAbs(src) {
			src = filepath.Join(b.root, src)
		}
		typ := files.TypeFile
		if f.conffile {
			typ = files.TypeConfigNoReplace
		}
		contents = append(contents, &files.Content{
			Source: src, Destination: f.dst, Type: typ,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: f.mode, MTime: b.src.Date},
		})
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          name,
		Arch:          arch,
		Platform:      "linux",
		Version:       b.version,
		VersionSchema: "none",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    b.maintainer,
		Description:   description,
		MTime:         b.src.Date,
		Overridables: nfpm.Overridables{
			Depends:  []string{"nftables", "iproute2"},
			Suggests: []string{"prometheus", "prometheus-alertmanager"},
			Contents: contents,
			Scripts: nfpm.Scripts{
				PostInstall: filepath.Join(gen, "postinst"),
				PreRemove:   filepath.Join(gen, "prerm"),
				PostRemove:  filepath.Join(gen, "postrm"),
			},
			Deb: nfpm.Deb{Compression: "xz"},
		},
	})
	path := filepath.Join(outDir, fmt.Sprintf("%s_%s_%s.deb", name, b.version, arch))
	tmp, err := os.CreateTemp(outDir, ".debpkg-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := deb.Default.Package(info, tmp); err != nil {
		tmp.Close()
		return "", fmt.Errorf("nfpm: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return path, os.Rename(tmp.Name(), path)
}

const description = `per-port traffic accounting, quotas and limits (nftables, tc)
Port Traffic Dog counts the traffic of each port, port range or group of
ports in both directions, enforces a monthly quota per item (blocking in the
kernel when it is used up, resetting on the item's own billing day) and
limits bandwidth, for hosts that sell or run port-based services.
It is built the Prometheus way: dog-enforcer owns one nftables table and
the tc shaper, dog-exporter serves the counters as Prometheus metrics, and
dog is the operator's CLI. Alert rules, an Alertmanager configuration with
Telegram templates and Grafana dashboards are in /usr/share/port-traffic-dog.`
