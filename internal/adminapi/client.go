package adminapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"
)

// ErrNotRunning means nothing answers on the socket.
var ErrNotRunning = errors.New("the enforcer is not running")

// Client talks to the enforcer's socket.
type Client struct {
	Socket string
	http   *http.Client
}

// NewClient returns a client for the socket path.
func NewClient(socket string) *Client {
	return &Client{Socket: socket, http: &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	switch in := in.(type) {
	case nil:
	case []byte: // sent as it is (an import archive)
		body = bytes.NewReader(in)
	default:
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://enforcer"+path, body)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w (no one answers on %s; start it with `systemctl start dog-enforcer`)", ErrNotRunning, c.Socket)
		}
		if errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("permission denied on %s: run as root (or as a member of the admin group)", c.Socket)
		}
		return fmt.Errorf("enforcer at %s: %w", c.Socket, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		var e Error
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return e.err()
		}
		return fmt.Errorf("enforcer: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Status returns every item with live counters.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	var s Status
	return &s, c.do(ctx, http.MethodGet, PathStatus, nil, &s)
}

// Reset resets items (or all).
func (c *Client) Reset(ctx context.Context, req ResetRequest) (*ResetResponse, error) {
	var r ResetResponse
	return &r, c.do(ctx, http.MethodPost, PathReset, req, &r)
}

// History returns the reset history, of the given items or all.
func (c *Client) History(ctx context.Context, ports []string) (*HistoryResponse, error) {
	q := url.Values{}
	for _, p := range ports {
		q.Add("ports", p)
	}
	var r HistoryResponse
	path := PathHistory
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return &r, c.do(ctx, http.MethodGet, path, nil, &r)
}

// Reload makes the enforcer re-read its config file; an invalid file is
// reported and changes nothing.
func (c *Client) Reload(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, PathReload, nil, nil)
}

// Checkpoint makes the enforcer read the kernel and write its state now.
func (c *Client) Checkpoint(ctx context.Context) (*CheckpointResponse, error) {
	var r CheckpointResponse
	return &r, c.do(ctx, http.MethodPost, PathCheckpoint, nil, &r)
}
