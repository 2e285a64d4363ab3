package chain

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
)

// unixTransport makes requests to the agent's unix socket synchronously on the caller's goroutine. A
// plugin process makes a handful of requests, so http.Transport's pool and its reader and writer
// goroutines per connection buy it nothing. The one reuse it does: a connection whose answer was read
// to its end is kept for the next GET (ADD's wait for the first regeneration follows its PUT), which
// saves a connect and an accept per ADD (after a DELETE nothing follows, so its connection is not
// kept). Only GETs go over a kept connection: they are idempotent, so
// one that fails there (the agent closed it meanwhile) is simply sent again on a new connection, as
// http.Transport does; a PUT or DELETE always gets a connection of its own and is never sent twice.
type unixTransport struct {
	socket string

	mu   sync.Mutex
	idle *persistConn // answered to the end, nothing in flight
}

// persistConn is a connection with the reader that may hold what the agent sent on it.
type persistConn struct {
	conn net.Conn
	br   *bufio.Reader
}

func (t *unixTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if pc := t.takeIdle(req); pc != nil {
		if resp, err := t.exchange(ctx, req, pc); err == nil || ctx.Err() != nil {
			return resp, err
		}
		// The kept connection failed before an answer: send the GET again on a new one.
	}
	conn, err := t.dial(ctx)
	if err != nil {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body even on errors
		}
		return nil, contextOr(ctx, err)
	}
	return t.exchange(ctx, req, &persistConn{conn: conn, br: bufio.NewReader(conn)})
}

// takeIdle hands a GET the kept connection, if there is one.
func (t *unixTransport) takeIdle(req *http.Request) *persistConn {
	if req.Method != http.MethodGet || req.Body != nil && req.Body != http.NoBody {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	pc := t.idle
	t.idle = nil
	return pc
}

// keep parks pc for the next GET, replacing (closing) any connection parked before.
func (t *unixTransport) keep(pc *persistConn) {
	t.mu.Lock()
	old := t.idle
	t.idle = pc
	t.mu.Unlock()
	if old != nil {
		old.conn.Close()
	}
}

// exchange writes req on pc and reads the answer's header; the body owns pc from then on.
func (t *unixTransport) exchange(ctx context.Context, req *http.Request, pc *persistConn) (*http.Response, error) {
	// Cancellation or the deadline closes the connection, which ends a blocked write or read.
	stop := context.AfterFunc(ctx, func() { pc.conn.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		pc.conn.Close()
		return nil, contextOr(ctx, err)
	}
	// Request.Write buffers and flushes, closes the body and calls the ClientTrace hooks
	// (WroteHeaders, WroteRequest) as http.Transport does.
	if err := req.Write(pc.conn); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(pc.br, req)
	if err != nil {
		return fail(err)
	}
	resp.Body = &connBody{ReadCloser: resp.Body, ctx: ctx, pc: pc, stop: stop, t: t, reusable: !resp.Close && !req.Close && req.Method != http.MethodDelete}
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

// connBody is a response body that owns its connection until Close.
type connBody struct {
	io.ReadCloser
	ctx      context.Context
	pc       *persistConn
	stop     func() bool
	t        *unixTransport
	reusable bool // worth keeping, and neither side asked to close the connection
	done     bool // the body was read to its end
}

func (b *connBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.done = true
	} else if err != nil {
		b.reusable = false
		err = contextOr(b.ctx, err)
	}
	return n, err
}

// maxDrain bounds what Close reads of an unread rest of the body to keep the connection: a JSON
// decoder leaves the trailing newline, never a large part of an answer.
const maxDrain = 4 << 10

// Close keeps the connection for the next GET when the answer was read to its end (draining a short
// rest) and nothing else is left on it; otherwise it drops the connection.
func (b *connBody) Close() error {
	if b.reusable && !b.done {
		if _, err := io.CopyN(io.Discard, b, maxDrain); err != io.EOF {
			b.reusable = false
		}
	}
	// stop reports false when the context's end already closed the connection (or is closing it).
	if b.stop() && b.reusable && b.done && b.pc.br.Buffered() == 0 {
		b.ReadCloser.Close()
		b.t.keep(b.pc)
		return nil
	}
	return b.pc.conn.Close()
}
