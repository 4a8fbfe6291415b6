package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFetchLogSince(t *testing.T) {
	p := filepath.Join(t.TempDir(), "http.log")
	if err := os.WriteFile(p, []byte("GET /cache/nix-cache-info 200 21\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l := fetchLog{path: p}
	off := l.offset()
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("GET /cache/a.narinfo 200 500\nGET /cache/nar/a.nar.xz 200 1000\nGET /cache/b.narinfo 404 9\n")
	f.Close()
	if got := l.since(off); got != (fetched{requests: 3, bytes: 1509}) {
		t.Errorf("since = %+v, want 3 requests, 1509 bytes", got)
	}
	if got := (fetchLog{}).since((fetchLog{}).offset()); got != (fetched{}) {
		t.Errorf("without a log: %+v", got)
	}
	if got := medianFetched([]fetched{{1, 10}, {3, 30}, {2, 20}}); got != (fetched{2, 20}) {
		t.Errorf("median = %+v", got)
	}
}
