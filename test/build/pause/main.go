// Command pause is the sandbox cluster's pod sandbox process (containerd's sandbox_image), in place of the upstream
// pause image, which cannot be pulled here. It does what the upstream one does: it holds the pod's namespaces open
// by staying alive, reaps the zombies of a pod that shares its PID namespace (it is PID 1 there), and exits 0 on
// SIGTERM or SIGINT, so a pod stops at once.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for received := range signals {
		if received != syscall.SIGCHLD {
			os.Exit(0)
		}
		reapChildren()
	}
}

// reapChildren waits for every child that has exited; SIGCHLD signals coalesce, so one may stand for several.
func reapChildren() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
