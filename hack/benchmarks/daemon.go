package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/moby/buildkit/client"
)

// daemon is a buildkitd of the benchmark's own, on an empty state, with the
// bed's config (so docker.io resolves through the bed's registry mirror), as
// internal/testbed.FreshDaemon starts one for the tests.
type daemon struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	log  *os.File
}

func startDaemon(config string) (*daemon, error) {
	dir, err := os.MkdirTemp("", "nixfile-bench-bk-")
	if err != nil {
		return nil, err
	}
	d := &daemon{dir: dir, addr: "unix://" + filepath.Join(dir, "buildkitd.sock")}
	if d.log, err = os.Create(filepath.Join(dir, "buildkitd.log")); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d.cmd = exec.Command("buildkitd", "--config", config, "--root", filepath.Join(dir, "root"),
		"--addr", d.addr, "--oci-worker=true", "--containerd-worker=false")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		d.log.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting buildkitd: %w", err)
	}
	for range 200 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := client.New(ctx, d.addr)
		if err == nil {
			_, err = c.ListWorkers(ctx)
			c.Close()
		}
		cancel()
		if err == nil {
			return d, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(d.log.Name())
	d.stop()
	return nil, fmt.Errorf("the fresh buildkitd did not start:\n%s", log)
}

// stop ends the daemon (the process this program started, by its id) and
// removes its state.
func (d *daemon) stop() {
	if d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _, _ = d.cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
		}
	}
	d.log.Close()
	if err := os.RemoveAll(d.dir); err != nil {
		// what is left is under the temp dir; say so rather than fail the run
		fmt.Fprintf(os.Stderr, "[bench] warning: removing %s: %v\n", d.dir, err)
	}
}
