//go:build cluster

// Command pause is the pod sandbox's process in the e2e cluster's local pause image (no registry
// here): as PID 1 of the pod it reaps orphans and waits for SIGTERM/SIGINT, like registry.k8s.io/pause.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			// Reap every exited child; WNOHANG returns 0 (or ECHILD) when none is left.
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
