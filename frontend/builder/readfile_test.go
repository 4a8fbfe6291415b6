package builder

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/gateway/client"
)

// fileReader serves data as a reference's ReadFile does with a range, and
// counts the reads.
func fileReader(data []byte, reads *int) func(context.Context, client.ReadRequest) ([]byte, error) {
	return func(_ context.Context, req client.ReadRequest) ([]byte, error) {
		*reads++
		if req.Range == nil {
			return nil, errors.New("a whole-file read")
		}
		if req.Range.Length > 16<<20 {
			return nil, errors.New("a read over the message limit")
		}
		off := min(req.Range.Offset, len(data))
		end := min(off+req.Range.Length, len(data))
		return data[off:end], nil
	}
}

func TestReadFileUpTo(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		max       int
		wantReads int
		wantErr   string
	}{
		{name: "empty", size: 0, max: 64 << 20, wantReads: 1},
		{name: "small", size: 100, max: 64 << 20, wantReads: 1},
		{name: "one chunk exactly", size: readChunk, max: 64 << 20, wantReads: 2},
		{name: "over the message limit", size: 20 << 20, max: 64 << 20, wantReads: 3},
		{name: "at the limit", size: 24 << 20, max: 24 << 20, wantReads: 4},
		{name: "over the limit", size: 24<<20 + 1, max: 24 << 20, wantErr: "larger than 24 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Repeat([]byte("0123456789abcdef"), tt.size/16+1)[:tt.size]
			reads := 0
			got, err := readFileUpTo(context.Background(), fileReader(data, &reads), "path-info.json", tt.max)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Errorf("read %d bytes, not the file's %d", len(got), len(data))
			}
			if reads != tt.wantReads {
				t.Errorf("%d reads, want %d", reads, tt.wantReads)
			}
		})
	}
}
