package bench

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"port-traffic-dog/internal/testnet"
)

// iperfServers starts one iperf3 server per port in the server namespace for
// the whole benchmark (stopped at cleanup).
func iperfServers(b testing.TB, p *testnet.Pair, ports ...uint16) {
	b.Helper()
	for _, port := range ports {
		p.Server.Start(b, "iperf3", "-s", "-p", strconv.Itoa(int(port)), "-B", testnet.ServerIP4.String())
	}
}

// iperfClient is the command line of a TCP transfer of seconds to port,
// with JSON output. Sender and receiver are pinned to different CPUs when
// there are two: left to the scheduler, runs of the same setup here spread
// over 14-20 Gbit/s; pinned, mostly 19-21.
func iperfClient(port uint16, seconds int, extra ...string) []string {
	args := []string{"iperf3", "-c", testnet.ServerIP4.String(), "-p", strconv.Itoa(int(port)), "-t", strconv.Itoa(seconds), "-J"}
	if runtime.NumCPU() >= 2 {
		args = append(args, "-A", "0,1")
	}
	return append(args, extra...)
}

// iperf3 runs one TCP transfer from the client namespace to port and returns
// the receiver's goodput in bit/s, the first second (slow start) omitted.
func iperf3(b testing.TB, p *testnet.Pair, port uint16, seconds int) float64 {
	b.Helper()
	args := iperfClient(port, seconds, "-O", "1")
	var last string
	for try := 0; try < 20; try++ {
		out, err := p.Client.Output(args...)
		var res struct {
			Error string `json:"error"`
			End   struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if jerr := json.Unmarshal([]byte(out), &res); err == nil && jerr == nil && res.Error == "" && res.End.SumReceived.BitsPerSecond > 0 {
			return res.End.SumReceived.BitsPerSecond
		}
		// The server is still starting, or busy finishing the last test.
		last = fmt.Sprintf("%v %s", err, res.Error)
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("iperf3 to port %d keeps failing: %s", port, last)
	return 0
}
