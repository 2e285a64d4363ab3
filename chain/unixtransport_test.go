package chain

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// countingServer serves handler on a unix socket and counts the connections it accepted. idle, if
// set, receives the server's side of each connection that turns idle.
func countingServer(t *testing.T, handler http.HandlerFunc, idle ...chan<- net.Conn) (socket string, conns *atomic.Int32) {
	t.Helper()
	socket = filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	conns = &atomic.Int32{}
	srv := &http.Server{Handler: handler, ConnState: func(c net.Conn, s http.ConnState) {
		switch {
		case s == http.StateNew:
			conns.Add(1)
		case s == http.StateIdle && len(idle) > 0:
			idle[0] <- c
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return socket, conns
}

// roundTrip sends one request through tr and reads its answer as the generated client does: the
// JSON decoder's part, then Close.
func roundTrip(t *testing.T, tr http.RoundTripper, method string, read int) (string, error) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPut {
		body = strings.NewReader(`{"x":1}`)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, "http://localhost/v1/endpoint/x", body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return "", err
	}
	buf := make([]byte, read)
	n, _ := io.ReadFull(resp.Body, buf)
	return string(buf[:n]), resp.Body.Close()
}

func TestUnixTransportKeepsTheConnectionForTheNextGET(t *testing.T) {
	socket, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"method":"`+r.Method+`"}`+"\n")
	})
	tr := &unixTransport{socket: socket}
	steps := []struct {
		method string
		conns  int32 // accepted after the step
	}{
		{http.MethodPut, 1},    // a connection of its own
		{http.MethodGet, 1},    // on the PUT's, read to its end (the newline drained by Close)
		{http.MethodGet, 1},    // again
		{http.MethodDelete, 2}, // never on a kept connection
		{http.MethodGet, 2},    // the one kept before the DELETE
		{http.MethodPut, 3},
	}
	for i, s := range steps {
		// Read only the JSON object, as json.Decoder does, leaving the newline to Close.
		got, err := roundTrip(t, tr, s.method, len(`{"method":"`+s.method+`"}`))
		if err != nil || got != `{"method":"`+s.method+`"}` {
			t.Fatalf("step %d %s: %q, %v", i, s.method, got, err)
		}
		if n := conns.Load(); n != s.conns {
			t.Fatalf("step %d %s: %d connections accepted, want %d", i, s.method, n, s.conns)
		}
	}
}

func TestUnixTransportDoesNotKeepWhatIsNotReusable(t *testing.T) {
	answer := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") }
	cases := []struct {
		name    string
		method  string
		handler http.HandlerFunc
	}{
		{"agent closes", http.MethodGet, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			answer(w, r)
		}},
		{"rest of the body too long to drain", http.MethodGet, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "{}"+strings.Repeat(" ", 2*maxDrain))
		}},
		{"after a DELETE", http.MethodDelete, answer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			socket, conns := countingServer(t, c.handler)
			tr := &unixTransport{socket: socket}
			for i := range 2 {
				if _, err := roundTrip(t, tr, c.method, 2); err != nil {
					t.Fatal(err)
				}
				if n := conns.Load(); n != int32(i+1) {
					t.Fatalf("after %s %d: %d connections accepted, want %d", c.method, i+1, n, i+1)
				}
				requireNothingKept(t, tr)
			}
		})
	}
}

func TestUnixTransportResendsAGETWhoseKeptConnectionFailed(t *testing.T) {
	idle := make(chan net.Conn, 4)
	socket, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "{}")
	}, idle)
	tr := &unixTransport{socket: socket}
	if _, err := roundTrip(t, tr, http.MethodPut, 2); err != nil {
		t.Fatal(err)
	}
	// The agent drops the kept connection (a restart, an idle timeout) before the GET.
	(<-idle).Close()
	got, err := roundTrip(t, tr, http.MethodGet, 2)
	if err != nil || got != "{}" {
		t.Fatalf("GET after the agent closed the kept connection: %q, %v", got, err)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections accepted, want 2 (the GET sent again on a new one)", n)
	}
}

func TestUnixTransportDoesNotKeepAConnectionWithMoreOnIt(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.Read(make([]byte, 4096))
		// One write: the second answer arrives with the first and sits in the client's reader.
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
		c.Read(make([]byte, 1)) // until the client closes
	}()
	tr := &unixTransport{socket: socket}
	if got, err := roundTrip(t, tr, http.MethodGet, 2); err != nil || got != "{}" {
		t.Fatalf("GET: %q, %v", got, err)
	}
	requireNothingKept(t, tr)
}

func requireNothingKept(t *testing.T, tr *unixTransport) {
	t.Helper()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.idle != nil {
		t.Fatal("the connection was kept for the next GET")
	}
}
