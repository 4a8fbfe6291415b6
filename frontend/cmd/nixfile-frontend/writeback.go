package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// writebackInterval is the pause between two flushes: short enough that
// little is left to flush when the image has loaded, long enough that a
// clean filesystem costs nothing.
const writebackInterval = 50 * time.Millisecond

// writebackLimit ends a writeback container that nobody stopped (the
// build's end releases it anyway).
const writebackLimit = time.Hour

// flushWrites flushes the filesystem of / (syncfs) until SIGTERM or
// SIGINT, or until limit has passed: the writeback's process
// (nixllb.WritebackCommand). A signal ends it with success: stopping it
// is how it is meant to end.
func flushWrites(limit time.Duration) error {
	root, err := os.Open("/")
	if err != nil {
		return err
	}
	defer root.Close()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(stop)
	end := time.After(limit)
	tick := time.NewTicker(writebackInterval)
	defer tick.Stop()
	for {
		if err := unix.Syncfs(int(root.Fd())); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-end:
			return nil
		case <-tick.C:
		}
	}
}
