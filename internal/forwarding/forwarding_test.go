package forwarding_test

import (
	"testing"

	"port-traffic-dog/internal/forwarding"
	"port-traffic-dog/internal/testnet"
)

func TestEnabledFollowsSysctls(t *testing.T) {
	ns := testnet.NewNS(t, "fwd")
	check := func(what string, want bool) {
		t.Helper()
		got, err := forwarding.Enabled(ns.Fd())
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: Enabled = %v, want %v", what, got, want)
		}
	}
	check("a new namespace", false)
	ns.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	check("net.ipv4.ip_forward=1", true)
	ns.Run(t, "sysctl", "-qw", "net.ipv4.ip_forward=0")
	check("net.ipv4.ip_forward=0 again", false)
	// IPv6 forwarding on one interface only.
	ns.Run(t, "sysctl", "-qw", "net.ipv6.conf.lo.forwarding=1")
	check("net.ipv6.conf.lo.forwarding=1", true)
	ns.Run(t, "sysctl", "-qw", "net.ipv6.conf.lo.forwarding=0")
	ns.Run(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
	check("net.ipv6.conf.all.forwarding=1", true)
	ns.Run(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=0")
	// "default" is what new interfaces start from, not a forwarding interface.
	ns.Run(t, "sysctl", "-qw", "net.ipv4.conf.default.forwarding=1")
	check("only net.ipv4.conf.default.forwarding=1", false)
}
