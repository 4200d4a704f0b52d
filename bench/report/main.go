// Command report turns `go test -bench` output (stdin) into the Markdown of
// bench/RESULTS.md: the machine, the command, and one table per benchmark
// family with a column per reported metric.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

type row struct {
	name    string
	metrics map[string]string
}

func main() {
	command := flag.String("command", "bench/run.sh", "the command that produced the input, for the reader")
	flag.Parse()
	families := map[string][]row{}
	var order []string
	var units = map[string][]string{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		line := sc.Text()
		fmt.Println(line) // keep the raw output visible
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i] // GOMAXPROCS suffix
		}
		family, sub, _ := strings.Cut(name, "/")
		r := row{name: sub, metrics: map[string]string{}}
		for i := 2; i+1 < len(f); i += 2 {
			unit := f[i+1]
			if unit == "ns/op" && len(f) > 4 {
				continue // wall time of the whole setup: not a result
			}
			r.metrics[unit] = f[i]
			if !contains(units[family], unit) {
				units[family] = append(units[family], unit)
			}
		}
		if _, ok := families[family]; !ok {
			order = append(order, family)
		}
		families[family] = append(families[family], r)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmark results\n\nWritten by `%s` on %s.\n\n", *command, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Machine: %s\n\n", machine())
	fmt.Fprintf(&b, "Every figure is a median of several runs; ratios compare runs taken side by side\n(alternating), because this machine is shared and noisy.\n\n")
	for _, fam := range order {
		fmt.Fprintf(&b, "## %s\n\n| case | %s |\n|---|%s\n", fam, strings.Join(units[fam], " | "), strings.Repeat("---|", len(units[fam])))
		for _, r := range families[fam] {
			vals := make([]string, len(units[fam]))
			for i, u := range units[fam] {
				vals[i] = r.metrics[u]
			}
			fmt.Fprintf(&b, "| %s | %s |\n", r.name, strings.Join(vals, " | "))
		}
		b.WriteString("\n")
	}
	if err := os.WriteFile("bench/RESULTS.md", []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func machine() string {
	out := func(name string, args ...string) string {
		b, _ := exec.Command(name, args...).Output()
		return strings.TrimSpace(string(b))
	}
	model := ""
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "model name") {
				_, model, _ = strings.Cut(l, ":")
				model = strings.TrimSpace(model)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		mem = strings.Fields(strings.Split(string(data), "\n")[0])[1] + " kB RAM"
	}
	return fmt.Sprintf("%s, %d CPUs (%s), %s, kernel %s, %s, nft %s, iperf3 %s", runtime.GOOS, runtime.NumCPU(), model, mem,
		out("uname", "-r"), runtime.Version(), out("nft", "--version"), strings.Fields(out("iperf3", "--version") + " ?")[1])
}
