package builder

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/pb"
	nixllb "github.com/nixfile/nixfile/llb"
)

// writebackDelay is how long the nix image may take to load before the
// writeback container starts. One already on the daemon loads in tens of
// milliseconds; one that is pulled is fetched for a third of a second or
// more before its extraction starts, which the container then overlaps.
const writebackDelay = 200 * time.Millisecond

// writebackLog is what the frontend writes to its stderr, the daemon's log,
// when it starts the writeback container.
const writebackLog = "nixfile: the nix image is being unpacked: flushing the daemon's filesystem meanwhile"

// writeback flushes the daemon's filesystem while a nix image is unpacked.
//
// Why: BuildKit writes the image's files (hundreds of MB for nixos/nix)
// into the page cache, and the first overlay unmounted after that (the
// store cache's base, or a Dockerfile's RUN) syncs them all while the
// build waits: on a slow disk that was 0.7-1.4 s, and the extraction
// itself took 1.5-2 times as long as with the writes flushed as they come
// (measured with a host loop of `sync -f` on fresh daemons, both
// frontends). A container of this frontend's own image, whose root is
// an overlay on the daemon's filesystem, flushes that filesystem
// (syncfs) every 50 ms while the image loads, on the core
// the decompression leaves idle, and stops when it has loaded.
type writeback struct {
	ctx      context.Context
	c        client.Client
	bc       *dockerui.Client
	archiver func() *nixllb.Archiver
}

func newWriteback(ctx context.Context, c client.Client, bc *dockerui.Client, archiver func() *nixllb.Archiver) *writeback {
	return &writeback{ctx: ctx, c: c, bc: bc, archiver: archiver}
}

// during runs load, with the writeback container running from
// writebackDelay after its start until it returns. Without the gateway's
// containers or this frontend's image, it only runs load.
func (w *writeback) during(load func() bool) bool {
	if w == nil {
		return load()
	}
	if caps := w.c.BuildOpts().Caps; caps.Supports(gwpb.CapGatewayExec) != nil {
		return load()
	}
	// Not waited for: a build that fails before the image has loaded
	// returns at once, and the gateway releases what it leaves.
	loaded := make(chan struct{})
	go func() {
		select {
		case <-loaded:
			return
		case <-time.After(writebackDelay):
		}
		ctr, proc := w.start()
		if ctr == nil {
			return
		}
		<-loaded
		w.stop(ctr, proc)
	}()
	defer close(loaded)
	return load()
}

// start starts the writeback container, or returns nil.
func (w *writeback) start() (client.Container, client.ContainerProcess) {
	a := w.archiver()
	if a == nil {
		return nil, nil
	}
	ref, err := solve(w.ctx, w.c, w.bc, a.Image, false)
	if err != nil {
		return nil, nil
	}
	// A writable root: its upper directory is on the filesystem the
	// daemon unpacks images into, which a read-only one might not reach.
	ctr, err := w.c.NewContainer(w.ctx, client.NewContainerRequest{
		Mounts:  []client.Mount{{Dest: "/", Ref: ref}},
		NetMode: pb.NetMode_NONE,
	})
	if err != nil {
		return nil, nil
	}
	proc, err := ctr.Start(w.ctx, client.StartRequest{Args: []string{a.Path, nixllb.WritebackCommand}})
	if err != nil {
		ctr.Release(context.WithoutCancel(w.ctx)) //nolint:errcheck // nothing to do about it
		return nil, nil
	}
	// In the daemon's log: the one sign of it.
	fmt.Fprintln(os.Stderr, writebackLog)
	return ctr, proc
}

// writebackStopTimeout bounds the wait for the process to end on SIGTERM.
const writebackStopTimeout = 5 * time.Second

// stop ends the writeback: SIGTERM, which the process exits on, then
// Release, which unmounts its root (what is left to flush by then is
// little). Release alone would kill the process, and the BuildKit of
// Docker Engine 26 logs an error for every kill that finds it gone.
func (w *writeback) stop(ctr client.Container, proc client.ContainerProcess) {
	ctx := context.WithoutCancel(w.ctx)
	if caps := w.c.BuildOpts().Caps; caps.Supports(gwpb.CapGatewayExecSignals) == nil && proc.Signal(ctx, syscall.SIGTERM) == nil {
		exited := make(chan struct{})
		go func() {
			proc.Wait() //nolint:errcheck // it ends either way
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(writebackStopTimeout):
		}
	}
	ctr.Release(ctx) //nolint:errcheck // nothing to do about it
}
