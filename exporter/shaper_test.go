package exporter

import (
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"port-traffic-dog/internal/testnet"
	tu "port-traffic-dog/internal/testutil"
)

// flood sends 1,000 datagrams of 1,400 bytes from one namespace as fast as
// a big socket buffer lets it (a small one would block the sender before a
// queue overflows).
func flood(t *testing.T, ns *testnet.NS, from, to netip.AddrPort) {
	t.Helper()
	var c *net.UDPConn
	if err := ns.Do(func() (err error) {
		c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(from))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetWriteBuffer(8 << 20)
	buf := make([]byte, 1400)
	for range 1000 {
		if _, err := c.WriteToUDPAddrPort(buf, to); err != nil {
			t.Fatal(err)
		}
	}
}

// TestShaperCounters floods a 1 Mbit/s item with UDP both ways and reads
// the shaper's drops and overlimits per direction from the real tc classes.
func TestShaperCounters(t *testing.T) {
	promtool := tu.RequireBinary(t, "promtool")
	p := testnet.NewPair(t)
	e, x := startEnforcer(t, p.Server.Fd(), `interfaces: [veth0]
ports:
  - ports: "5600"
    rate: 1Mbps
  - ports: "5601"
`, nil)
	t.Cleanup(func() { e.Cleanup() })
	before := scrape(t, x)
	for _, d := range []string{"in", "out"} {
		for _, m := range []string{"dropped_packets", "overlimits"} {
			if v := value(t, before, `port_traffic_dog_shaper_`+m+`_total{direction="`+d+`",port="5600"}`); v != 0 {
				t.Errorf("%s %s before any traffic: %v", m, d, v)
			}
		}
	}
	// 1.4 MB in a few milliseconds each way against a 1 Mbit/s limit and a
	// 128 KiB queue: most of it is dropped.
	flood(t, p.Client, netip.AddrPortFrom(testnet.ClientIP4, 40000), netip.AddrPortFrom(testnet.ServerIP4, 5600))
	flood(t, p.Server, netip.AddrPortFrom(testnet.ServerIP4, 5600), netip.AddrPortFrom(testnet.ClientIP4, 40000))
	out := scrape(t, x)
	for _, d := range []string{"in", "out"} {
		for _, m := range []string{"dropped_packets", "overlimits"} {
			if v := value(t, out, `port_traffic_dog_shaper_`+m+`_total{direction="`+d+`",port="5600"}`); v <= 0 {
				t.Errorf("%s %s after a flood: %v", m, d, v)
			}
		}
	}
	if strings.Contains(out, `port_traffic_dog_shaper_dropped_packets_total{direction="in",port="5601"}`) {
		t.Error("an unlimited item has shaper series")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	if res, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, res)
	}
}
