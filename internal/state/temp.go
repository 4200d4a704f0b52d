package state

import (
	"fmt"

	"port-traffic-dog/internal/atomicfile"
)

// RemoveStaleTemp removes what an interrupted checkpoint leaves in dir
// (SIGKILL, power loss in the middle of a write): the temporary files of
// the state and meta files, the half-made links of their .prev rotation,
// and the half-made link of the durable checkpoint. Call it before the
// first write, when no write can be in flight.
func RemoveStaleTemp(dir string) (removed int, err error) {
	n, err := atomicfile.RemoveStale(dir, []string{FileName, MetaName}, []string{DurableName})
	if err != nil {
		return n, fmt.Errorf("state dir %s: %w", dir, err)
	}
	return n, nil
}
