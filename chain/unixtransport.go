package chain

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
)

// unixTransport makes each request on a connection of its own to the agent's unix socket,
// synchronously on the caller's goroutine. A plugin process makes one or two requests, so
// http.Transport's pool and its reader and writer goroutines per connection buy it nothing.
type unixTransport struct {
	socket string
}

func (t *unixTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	conn, err := t.dial(ctx)
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body even on errors
		}
		return nil, contextOr(ctx, err)
	}
	// Cancellation or the deadline closes the connection, which ends a blocked write or read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		return nil, contextOr(ctx, err)
	}
	// Request.Write buffers and flushes, closes the body and calls the ClientTrace hooks
	// (WroteHeaders, WroteRequest) as http.Transport does.
	if err := req.Write(conn); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return fail(err)
	}
	resp.Body = &connBody{ReadCloser: resp.Body, ctx: ctx, conn: conn, stop: stop}
	return resp, nil
}

// dial connects on a context that ctx cancels but whose deadline is not its own: net.Dialer fails
// with a timeout of its own a moment before ctx reports its end, and the retry loop tells an
// expired request (agent unavailable) from a failed one by ctx.Err(), as with http.Transport.
func (t *unixTransport) dial(ctx context.Context) (net.Conn, error) {
	dialCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	var d net.Dialer
	return d.DialContext(dialCtx, "unix", t.socket)
}

// contextOr reports an ended request context's cause in place of the network error it led to, as
// http.Transport does.
func contextOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// connBody is a response body that owns its connection.
type connBody struct {
	io.ReadCloser
	ctx  context.Context
	conn net.Conn
	stop func() bool
}

func (b *connBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = contextOr(b.ctx, err)
	}
	return n, err
}

// Close drops the connection without draining the rest of the body, as nothing else will use it.
func (b *connBody) Close() error {
	b.stop()
	return b.conn.Close()
}
