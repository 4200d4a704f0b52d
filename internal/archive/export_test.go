package archive

import "io"

// ReadLimited is Read with other bounds, so tests exercise the bounds
// without building hundreds of megabytes.
func ReadLimited(r io.Reader, maxCompressed, maxTotal int64) (*Contents, error) {
	return read(r, maxCompressed, maxTotal)
}
