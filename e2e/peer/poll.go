package peer

import "time"

// Eventually polls cond until it returns nil or the timeout passes, and returns the last error
// (not a generic "timed out": the last reason is what a failure report needs).
func Eventually(timeout, every time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(every)
	}
}
