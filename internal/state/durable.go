package state

import (
	"path/filepath"
	"time"
)

// ItemCounters is one item's counters in a checkpoint.
type ItemCounters struct {
	ID    string  `json:"id"`
	Ports string  `json:"ports"`
	In    Counter `json:"in"`
	Out   Counter `json:"out"`
}

// Counters are the counters of a checkpoint, the host's among them (ID
// "host"), without the rest of the state: what the exporter serves as the
// items' _total counters.
type Counters struct {
	SavedAt time.Time      `json:"saved_at"`
	Host    *ItemCounters  `json:"host,omitempty"`
	Items   []ItemCounters `json:"items"`
}

// ReadDurable reads and verifies the counters of the published durable
// checkpoint in dir (DurableName). Decoding only the counters keeps it at
// a fraction of a full load's time and garbage.
func ReadDurable(dir string) (*Counters, error) {
	return readDecoded[Counters](filepath.Join(dir, DurableName))
}
