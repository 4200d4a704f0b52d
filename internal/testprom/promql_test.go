package testprom_test

import (
	"slices"
	"testing"

	"port-traffic-dog/internal/testprom"
)

func TestPromQLRefs(t *testing.T) {
	m, g, err := testprom.PromQLRefs(`sum by (instance, port) (rate(port_traffic_dog_bytes_total{instance=~"a|b{}", port!="x"}[5m])) * on (instance) group_left (remark) max by (instance, remark) (port_traffic_dog_info) > bool 3 or vector(0) + sum(up) without (job)`)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m["port_traffic_dog_info"]; !ok || len(m) != 3 || !slices.Equal(m["port_traffic_dog_bytes_total"], []string{"instance", "port"}) {
		t.Errorf("metrics %v", m)
	}
	if !slices.Equal(g, []string{"instance", "port", "instance", "remark", "instance", "remark", "job"}) {
		t.Errorf("grouping %v", g)
	}
	for _, bad := range []string{`{__name__=~"port_traffic_dog_.*"}`, `x{a="b"`, `sum by x`, `x{a="b}`} {
		if _, _, err := testprom.PromQLRefs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMetricsContract(t *testing.T) {
	c, err := testprom.MetricsContract("../../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := c["port_traffic_dog_bytes_total"]; !ok || !slices.Equal(l, []string{"port", "direction"}) {
		t.Errorf("bytes_total: %v", l)
	}
	if l, ok := c["port_traffic_dog_items"]; !ok || len(l) != 0 {
		t.Errorf("items: %v %v", l, ok)
	}
}
