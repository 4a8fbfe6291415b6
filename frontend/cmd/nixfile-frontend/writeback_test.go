package main

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// The writeback command flushes the filesystem it runs on over and over
// (an error from syncfs would end it), until its limit.
func TestFlushWrites(t *testing.T) {
	start := time.Now()
	if err := flushWrites(3 * writebackInterval); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 3*writebackInterval {
		t.Errorf("returned after %v, before its limit", took)
	}
}

// SIGTERM, how the frontend and the nix step stop it, ends it with success.
func TestFlushWritesStopsOnSIGTERM(t *testing.T) {
	done := make(chan error, 1)
	go func() { done <- flushWrites(time.Minute) }()
	time.Sleep(200 * time.Millisecond) // its handler is in place by then
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("still flushing 5 s after SIGTERM")
	}
}
