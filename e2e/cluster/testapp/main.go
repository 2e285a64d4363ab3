//go:build cluster

// Command testapp is the e2e cluster's test image: a TCP server that greets with the pod name, and
// the client the test runs through `kubectl exec` to check which connections a policy allows.
//
//	testapp serve PORT...        listen on every port, answer "hello from $POD_NAME"
//	testapp dial IP:PORT [TIMEOUT] print the greeting; exit 0, 3 on timeout (a policy drop), 1 otherwise
//	testapp wait                 do nothing until SIGTERM (a client container to exec dial in)
package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const exitTimeout = 3

func main() {
	if len(os.Args) == 2 && os.Args[1] == "wait" {
		waitSignal()
		return
	}
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: testapp serve PORT... | testapp dial IP:PORT [TIMEOUT] | testapp wait")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		os.Exit(serve(os.Args[2:]))
	case "dial":
		timeout := 3 * time.Second
		if len(os.Args) > 3 {
			d, err := time.ParseDuration(os.Args[3])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			timeout = d
		}
		os.Exit(dial(os.Args[2], timeout))
	}
	fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
	os.Exit(2)
}

func serve(ports []string) int {
	greeting := "hello from " + os.Getenv("POD_NAME") + "\n"
	for _, p := range ports {
		ln, err := net.Listen("tcp4", ":"+p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Write([]byte(greeting))
				_ = c.Close()
			}
		}()
	}
	fmt.Printf("serving on %s\n", strings.Join(ports, ", "))
	waitSignal()
	return 0
}

// waitSignal returns on SIGTERM: as PID 1 of the container, without a handler SIGTERM would be
// ignored and the pod would only go after its grace period.
func waitSignal() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
}

func dial(addr string, timeout time.Duration) int {
	c, err := net.DialTimeout("tcp4", addr, timeout)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			fmt.Printf("timeout: %v\n", err)
			return exitTimeout
		}
		fmt.Printf("error: %v\n", err)
		return 1
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Printf("connected, no greeting: %v\n", err)
		return 1
	}
	fmt.Print(line)
	return 0
}
