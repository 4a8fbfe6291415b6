package builder

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/gateway/client"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/grpcerrors"
	"github.com/nixfile/nixfile/frontend/nixfile"
	"github.com/nixfile/nixfile/frontend/nixfile2llb"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"google.golang.org/grpc/status"
)

// optsClient is a gateway client of which only BuildOpts answers.
type optsClient struct {
	client.Client
	opts map[string]string
}

func (c optsClient) BuildOpts() client.BuildOpts { return client.BuildOpts{Opts: c.opts} }

// Without a filename option the frontend reads Nixfile (dockerui's default
// is Dockerfile); a filename given is kept, and the caller's options are
// never changed.
func TestDefaultFilename(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts map[string]string
		want string
	}{
		{name: "no options", opts: nil, want: "Nixfile"},
		{name: "no filename", opts: map[string]string{"build-arg:A": "1"}, want: "Nixfile"},
		{name: "empty filename", opts: map[string]string{"filename": ""}, want: "Nixfile"},
		{name: "filename given", opts: map[string]string{"filename": "sub/Nixfile.prod"}, want: "sub/Nixfile.prod"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := maps.Clone(tc.opts)
			got := withDefaultFilename{optsClient{opts: tc.opts}}.BuildOpts().Opts
			if got["filename"] != tc.want {
				t.Errorf("filename = %q, want %q", got["filename"], tc.want)
			}
			if tc.opts["build-arg:A"] != "" && got["build-arg:A"] != "1" {
				t.Errorf("the other options are lost: %v", got)
			}
			if !maps.Equal(tc.opts, before) {
				t.Errorf("the caller's options changed: %v, were %v", tc.opts, before)
			}
		})
	}
}

// SOURCE_DATE_EPOCH is seconds since 1970, in UTC; absent or empty is no
// epoch; anything else is an error that names it.
func TestSourceDateEpoch(t *testing.T) {
	for _, tc := range []struct {
		value string // "-" for absent
		want  *time.Time
		err   bool
	}{
		{value: "-"},
		{value: ""},
		{value: "0", want: ptr(time.Unix(0, 0).UTC())},
		{value: "1700000000", want: ptr(time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC))},
		{value: "-1", err: true},
		{value: "1.5", err: true},
		{value: "2023-11-14", err: true},
		{value: " 1", err: true},
		{value: "99999999999999999999", err: true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			args := map[string]string{"OTHER": "1"}
			if tc.value != "-" {
				args["SOURCE_DATE_EPOCH"] = tc.value
			}
			got, err := sourceDateEpoch(args)
			switch {
			case tc.err:
				if err == nil || !strings.Contains(err.Error(), "invalid SOURCE_DATE_EPOCH") {
					t.Errorf("sourceDateEpoch(%q) = %v, %v; want an error naming it", tc.value, got, err)
				}
			case err != nil:
				t.Errorf("sourceDateEpoch(%q): %v", tc.value, err)
			case (got == nil) != (tc.want == nil) || got != nil && (!got.Equal(*tc.want) || got.Location() != time.UTC):
				t.Errorf("sourceDateEpoch(%q) = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// An error located in the Nixfile carries the Nixfile and its lines, as
// BuildKit shows them; its message is unchanged; other errors, and errors
// that carry a source already, pass as they are.
func TestWithNixfileSource(t *testing.T) {
	const data = "PACKAGES hello\nUSER app\nPACKAGES hello\n"
	// As dockerui makes it: the Nixfile, and the definition it was read from.
	st := llb.Local("dockerfile")
	sm := llb.NewSourceMap(&st, "Nixfile", "Nixfile", []byte(data))
	def, err := st.Marshal(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sm.Definition = def
	rng := func(line int) nixfile.Range {
		return nixfile.Range{Start: nixfile.Position{Line: line}, End: nixfile.Position{Line: line, Character: 14}}
	}
	located := &nixfile.LocationError{Range: rng(3), Also: []nixfile.Range{rng(1)}, Err: errors.New("two packages have bin/hello")}
	err = withNixfileSource(fmt.Errorf("building: %w", located), sm)
	if want := "building: line 3: two packages have bin/hello"; err.Error() != want {
		t.Errorf("message = %q, want %q", err.Error(), want)
	}
	srcs := errdefs.Sources(err)
	if len(srcs) != 1 {
		t.Fatalf("%d sources, want the Nixfile", len(srcs))
	}
	info := srcs[0].Info
	if info.Filename != "Nixfile" || string(info.Data) != data || info.Language != "Nixfile" {
		t.Errorf("source = %q %q %q, want the Nixfile", info.Filename, info.Language, info.Data)
	}
	want := []*pb.Range{nixfile2llb.PBRange(rng(3)), nixfile2llb.PBRange(rng(1))}
	if got := srcs[0].Ranges; len(got) != 2 || got[0].String() != want[0].String() || got[1].String() != want[1].String() {
		t.Errorf("ranges = %v, want the error's line, then the others: %v", got, want)
	}
	// The source crosses the gateway: it is in the gRPC status.
	gs, _ := status.FromError(grpcerrors.ToGRPC(t.Context(), err))
	if len(errdefs.Sources(grpcerrors.FromGRPC(gs.Err()))) != 1 {
		t.Errorf("the source is lost over gRPC: %v", gs)
	}

	if again := withNixfileSource(err, sm); len(errdefs.Sources(again)) != 1 {
		t.Errorf("a source was added to an error that had one: %d sources", len(errdefs.Sources(again)))
	}
	plain := errors.New("no line")
	if got := withNixfileSource(plain, sm); got != plain {
		t.Errorf("an error without a line became %v", got)
	}
	if got := withNixfileSource(nil, sm); got != nil {
		t.Errorf("nil became %v", got)
	}
	if got := withNixfileSource(located, nil); got != error(located) {
		t.Errorf("without a source map, the error became %v", got)
	}
}

// --call outline shows each ARG's value in effect: a --build-arg's, else the
// default expanded, else an automatic argument's; even when a later line
// does not expand.
func TestOutlineArgs(t *testing.T) {
	const src = "ARG A=1\nARG B=${A}0\nARG TARGETARCH\nARG C\nARG D=x\nLABEL broken=${\nARG E=$A$D\n"
	f, err := nixfile.Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	arm := ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	for _, tc := range []struct {
		name string
		args map[string]string
		want map[string]string
	}{
		{name: "defaults", want: map[string]string{"A": "1", "B": "10", "TARGETARCH": "arm64", "C": "", "D": "x", "E": "1x"}},
		{name: "build args", args: map[string]string{"A": "2", "C": "c"},
			want: map[string]string{"A": "2", "B": "20", "TARGETARCH": "arm64", "C": "c", "D": "x", "E": "2x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := nixfile2llb.Expand(f, nixfile2llb.ConvertOpt{BuildArgs: tc.args, TargetPlatform: &arm})
			got := map[string]string{}
			for _, a := range outlineArgs(f, tc.args, x) {
				got[a.Name] = a.Value
				if a.Location == nil || len(a.Location.Ranges) != 1 {
					t.Errorf("ARG %s has no line: %v", a.Name, a.Location)
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("outline args = %v, want %v", got, tc.want)
			}
		})
	}
}

// The nix image is resolved once per reference and platform however many
// target platforms ask at once, in the build's context, not the caller's.
func TestNixImagesResolveOnce(t *testing.T) {
	type ctxKey struct{}
	buildCtx := context.WithValue(context.Background(), ctxKey{}, "build")
	var mu sync.Mutex
	calls := map[string]int{}
	images := newNixImages(buildCtx, func(ctx context.Context, ref string, p ocispecs.Platform) (nixfile2llb.ResolvedImage, error) {
		if ctx.Value(ctxKey{}) != "build" {
			t.Errorf("resolved in another context than the build's")
		}
		mu.Lock()
		calls[ref+" "+p.Architecture]++
		mu.Unlock()
		return nixfile2llb.ResolvedImage{ID: ref + "@" + p.Architecture}, nil
	})
	amd64, arm64 := ocispecs.Platform{OS: "linux", Architecture: "amd64"}, ocispecs.Platform{OS: "linux", Architecture: "arm64"}
	var wg sync.WaitGroup
	for range 8 {
		for _, p := range []ocispecs.Platform{amd64, arm64} {
			wg.Go(func() {
				img, err := images.get("nix:1", p)
				if err != nil || img.ID != "nix:1@"+p.Architecture {
					t.Errorf("get(nix:1, %s) = %q, %v", p.Architecture, img.ID, err)
				}
			})
		}
	}
	wg.Wait()
	if _, err := images.get("nix:2", amd64); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"nix:1 amd64": 1, "nix:1 arm64": 1, "nix:2 amd64": 1}
	if !maps.Equal(calls, want) {
		t.Errorf("resolves = %v, want %v", calls, want)
	}
}
