package main

import (
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
