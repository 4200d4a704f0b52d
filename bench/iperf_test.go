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
	return iperfReceived(b, p, iperfClient(port, seconds, "-O", "1")).BitsPerSecond
}

// iperf3UDP sends 64-byte datagrams as fast as the sender can for seconds
// (iperf3 -u -l 64 -b 0) and returns the packets per second the server
// received.
func iperf3UDP(b testing.TB, p *testnet.Pair, port uint16, seconds int) float64 {
	b.Helper()
	r := iperfReceived(b, p, iperfClient(port, seconds, "-u", "-l", strconv.Itoa(udpPayload), "-b", "0"))
	return r.Bytes / udpPayload / r.Seconds
}

// received is iperf3's summary of what the server received.
type received struct {
	Bytes         float64 `json:"bytes"`
	Seconds       float64 `json:"seconds"`
	BitsPerSecond float64 `json:"bits_per_second"`
}

// iperfReceived runs an iperf3 client command line in the client namespace,
// retrying while the server is busy, and returns the receiver's summary.
func iperfReceived(b testing.TB, p *testnet.Pair, args []string) received {
	b.Helper()
	var last string
	for try := 0; try < 20; try++ {
		out, err := p.Client.Output(args...)
		var res struct {
			Error string `json:"error"`
			End   struct {
				SumReceived received `json:"sum_received"`
			} `json:"end"`
		}
		if jerr := json.Unmarshal([]byte(out), &res); err == nil && jerr == nil && res.Error == "" &&
			res.End.SumReceived.BitsPerSecond > 0 && res.End.SumReceived.Seconds > 0 {
			return res.End.SumReceived
		}
		// The server is still starting, or busy finishing the last test.
		last = fmt.Sprintf("%v %s", err, res.Error)
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("iperf3 %v keeps failing: %s", args, last)
	return received{}
}
