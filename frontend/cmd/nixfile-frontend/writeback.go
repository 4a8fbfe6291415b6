package main

import (
	"os"
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

// flushWrites flushes the filesystem of / (syncfs) until it is killed or
// limit has passed: the writeback container's process
// (nixllb.WritebackCommand).
func flushWrites(limit time.Duration) error {
	root, err := os.Open("/")
	if err != nil {
		return err
	}
	defer root.Close()
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(writebackInterval) {
		if err := unix.Syncfs(int(root.Fd())); err != nil {
			return err
		}
	}
	return nil
}
