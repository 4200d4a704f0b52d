package nft

import (
	"errors"

	"port-traffic-dog/internal/layout"
	"port-traffic-dog/internal/nftread"
)

// ReadObjects dumps every counter and quota of the table. It returns
// ErrNoTable when the table is gone.
func (c *Conn) ReadObjects() (*nftread.Objects, error) {
	objs, err := nftread.Read(c.netns, layout.Table)
	if errors.Is(err, nftread.ErrNoTable) {
		return nil, ErrNoTable
	}
	return objs, err
}
