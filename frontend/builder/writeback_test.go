package builder

import (
	"context"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	nixllb "github.com/nixfile/nixfile/llb"
)

// containerClient is a gateway client that solves to a ref and records the
// containers it is asked for.
type containerClient struct {
	client.Client
	caps *apicaps.CapSet

	mu       sync.Mutex
	requests []client.NewContainerRequest
	started  [][]string
	events   []string // signals, the process's exit and Release, in order
	released chan struct{}
}

func (c *containerClient) BuildOpts() client.BuildOpts {
	return client.BuildOpts{Caps: *c.caps, LLBCaps: *capSet(&pb.Caps)}
}

func (c *containerClient) Solve(context.Context, client.SolveRequest) (*client.Result, error) {
	res := client.NewResult()
	res.SetRef(struct{ client.Reference }{})
	return res, nil
}

func (c *containerClient) NewContainer(_ context.Context, req client.NewContainerRequest) (client.Container, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = append(c.requests, req)
	return fakeContainer{c: c}, nil
}

type fakeContainer struct {
	client.Container
	c *containerClient
}

func (f fakeContainer) Start(_ context.Context, req client.StartRequest) (client.ContainerProcess, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	f.c.started = append(f.c.started, req.Args)
	return &fakeProcess{c: f.c, exited: make(chan struct{})}, nil
}

func (f fakeContainer) Release(context.Context) error {
	f.c.mu.Lock()
	f.c.events = append(f.c.events, "release")
	f.c.mu.Unlock()
	close(f.c.released)
	return nil
}

// fakeProcess runs until it gets a signal.
type fakeProcess struct {
	client.ContainerProcess
	c      *containerClient
	exited chan struct{}
}

func (p *fakeProcess) Signal(_ context.Context, sig syscall.Signal) error {
	p.c.mu.Lock()
	p.c.events = append(p.c.events, sig.String())
	p.c.mu.Unlock()
	close(p.exited)
	return nil
}

func (p *fakeProcess) Wait() error {
	<-p.exited
	p.c.mu.Lock()
	p.c.events = append(p.c.events, "exited")
	p.c.mu.Unlock()
	return nil
}

// A nix image that takes long to load gets the writeback container for as
// long as it loads: this frontend's image as a writable root, no network,
// the binary's writeback command, stopped by SIGTERM and released once it
// has exited (without the gateway's signals, released at once); one that
// loads at once, or a gateway without containers, gets none.
func TestWriteback(t *testing.T) {
	archiver := func() *nixllb.Archiver { return &nixllb.Archiver{Image: llb.Image("frontend:1"), Path: "/frontend"} }
	for _, tc := range []struct {
		name          string
		caps          *apicaps.CapSet
		load          time.Duration
		wantContainer bool
		wantEvents    []string
	}{
		{name: "an image pulled", caps: capSet(&gwpb.Caps), load: writebackDelay + 300*time.Millisecond, wantContainer: true,
			wantEvents: []string{"terminated", "exited", "release"}},
		{name: "an image pulled, a gateway without signals", caps: capSet(&gwpb.Caps, gwpb.CapGatewayExecSignals), load: writebackDelay + 300*time.Millisecond, wantContainer: true,
			wantEvents: []string{"release"}},
		{name: "an image on the daemon", caps: capSet(&gwpb.Caps), load: 0},
		{name: "a gateway without containers", caps: capSet(&gwpb.Caps, gwpb.CapGatewayExec), load: writebackDelay + 300*time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &containerClient{caps: tc.caps, released: make(chan struct{})}
			w := newWriteback(context.Background(), c, &dockerui.Client{}, archiver)
			var containersWhileLoading int
			if !w.during(func() bool {
				time.Sleep(tc.load)
				c.mu.Lock()
				containersWhileLoading = len(c.started)
				c.mu.Unlock()
				return true
			}) {
				t.Fatal("during did not return load's result")
			}
			if !tc.wantContainer {
				time.Sleep(writebackDelay + 100*time.Millisecond)
				c.mu.Lock()
				defer c.mu.Unlock()
				if len(c.requests) != 0 {
					t.Fatalf("%d containers started, want none", len(c.requests))
				}
				return
			}
			select {
			case <-c.released:
			case <-time.After(5 * time.Second):
				t.Fatal("the container was not released after the load")
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if containersWhileLoading != 1 || len(c.requests) != 1 {
				t.Fatalf("containers while loading: %d, in all: %d; want 1", containersWhileLoading, len(c.requests))
			}
			req := c.requests[0]
			if len(req.Mounts) != 1 || req.Mounts[0].Dest != "/" || req.Mounts[0].Readonly || req.NetMode != pb.NetMode_NONE {
				t.Errorf("container = %+v, want a writable root and no network", req)
			}
			if want := []string{"/frontend", nixllb.WritebackCommand}; !slices.Equal(c.started[0], want) {
				t.Errorf("ran %q, want %q", c.started[0], want)
			}
			if !slices.Equal(c.events, tc.wantEvents) {
				t.Errorf("stopped with %q, want %q", c.events, tc.wantEvents)
			}
		})
	}
}
