package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
	gwpb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"github.com/moby/buildkit/solver/errdefs"
	"github.com/moby/buildkit/solver/pb"
	"github.com/moby/buildkit/util/apicaps"
	apicapspb "github.com/moby/buildkit/util/apicaps/pb"
	"github.com/nixfile/nixfile/frontend/builder"
	"github.com/nixfile/nixfile/internal/testbed"
	"github.com/tonistiigi/fsutil"
)

// buildOpts is how a test builds a Nixfile, as a user would with
// `buildctl build --opt ...` or `docker buildx build --build-arg ...`.
type buildOpts struct {
	attrs map[string]string
	// run commands in the built image, through BuildKit, after the build;
	// nil args run the image's entrypoint and cmd.
	run [][]string
	// addr is another daemon to build on; empty is the bed's.
	addr string
	// secrets are --secret id=... values.
	secrets map[string][]byte
	// sshAgent is the socket of an SSH agent forwarded as --ssh default.
	sshAgent string
	// cacheTo and cacheFrom are --cache-to and --cache-from.
	cacheTo, cacheFrom []client.CacheOptionsEntry
	// hideCaps are capabilities the frontend is told the daemon lacks,
	// as an older BuildKit or Docker's classic image store would.
	hideCaps []apicaps.CapID
	// noContext sends no build context, only the Nixfile's directory, as
	// `buildctl build` without `--local context` does.
	noContext bool
	// locals are more local directories the client sends, by name
	// (`buildctl build --local NAME=DIR`), for named contexts.
	locals map[string]string
}

// image is a built image, read back from its OCI export.
type image struct {
	img    v1.Image
	config *v1.ConfigFile
	files  map[string]fileEntry // the flattened filesystem, by path without leading /
	// outputs of buildOpts.run, in order.
	outputs []runOutput
	// cached tells, for each step by name, whether BuildKit took it from
	// its cache; log is what the steps printed.
	cached map[string]bool
	log    string
	// logAt is the log as BuildKit timestamped it, chunk by chunk.
	logAt []logChunk
	// warnings are the build's warnings, as buildx prints them.
	warnings []string
	// failedSteps are the steps that reported an error, by name, as buildx
	// prints them (ERROR [...]), in a build that succeeded.
	failedSteps []string
	// digest is the image manifest's digest, or, for a multi-platform
	// build, the image index's.
	digest string
	// platforms are a multi-platform build's images, by platform
	// (linux/arm64); nil for a single image.
	platforms map[string]*image
}

type fileEntry struct {
	modTime  time.Time
	mode     int64
	typeflag byte
	linkname string
	uid, gid int
	data     []byte
}

// logChunk is a piece of a step's output and when BuildKit received it.
type logChunk struct {
	at   time.Time
	data string
}

type runOutput struct {
	stdout, stderr string
	err            error
}

// writeContext makes a build context from files (path → content).
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// withTestPkgs copies the test package set into a context directory.
func withTestPkgs(t *testing.T, bed *testbed.Bed, dir, name string) {
	t.Helper()
	out, err := exec.Command("cp", "-a", bed.TestPkgs, filepath.Join(dir, name)).CombinedOutput()
	if err != nil {
		t.Fatalf("copying the test package set: %v: %s", err, out)
	}
}

// build runs the frontend in-process against the bed's daemon (as BuildKit
// tests its own Dockerfile frontend) and reads the exported image back.
func build(t *testing.T, bed *testbed.Bed, dir string, opt buildOpts) (*image, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c := bed.Client(t)
	if opt.addr != "" {
		var err error
		if c, err = client.New(ctx, opt.addr); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ociPath := filepath.Join(t.TempDir(), "image.tar")
	attrs := map[string]string{"filename": "Nixfile"}
	maps.Copy(attrs, opt.attrs)

	var (
		mu      sync.Mutex
		outputs []runOutput
	)
	buildFunc := func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		if len(opt.hideCaps) > 0 {
			gc = hiddenCaps{gc, opt.hideCaps}
		}
		res, err := builder.Build(ctx, gc)
		if err != nil || len(opt.run) == 0 {
			return res, err
		}
		ref, err := res.SingleRef()
		if err != nil {
			return nil, err
		}
		cfg, err := imageConfigOf(res)
		if err != nil {
			return nil, err
		}
		for _, args := range opt.run {
			o := runIn(ctx, gc, ref, cfg, args)
			mu.Lock()
			outputs = append(outputs, o)
			mu.Unlock()
		}
		return res, nil
	}
	statusCh := make(chan *client.SolveStatus)
	var logs bytes.Buffer
	var logAt []logChunk
	cached := map[string]bool{}
	var warnings, failed []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range statusCh {
			for _, v := range s.Vertexes {
				if v.Completed != nil || v.Cached {
					cached[v.Name] = v.Cached
				}
				if v.Error != "" {
					failed = append(failed, v.Name+": "+v.Error)
				}
			}
			for _, l := range s.Logs {
				logs.Write(l.Data)
				logAt = append(logAt, logChunk{l.Timestamp, string(l.Data)})
			}
			for _, w := range s.Warnings {
				warnings = append(warnings, string(w.Short))
			}
		}
	}()
	var sessionAttachables []session.Attachable
	if opt.secrets != nil {
		sessionAttachables = append(sessionAttachables, secretsprovider.FromMap(opt.secrets))
	}
	if opt.sshAgent != "" {
		agent, err := sshprovider.NewSSHAgentProvider([]sshprovider.AgentConfig{{ID: "default", Paths: []string{opt.sshAgent}}})
		if err != nil {
			t.Fatal(err)
		}
		sessionAttachables = append(sessionAttachables, agent)
	}
	locals := map[string]fsutil.FS{"context": fs, "dockerfile": fs}
	if opt.noContext {
		delete(locals, "context")
	}
	for name, d := range opt.locals {
		if locals[name], err = fsutil.NewFS(d); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.Build(ctx, client.SolveOpt{
		LocalMounts:   locals,
		FrontendAttrs: attrs,
		Session:       sessionAttachables,
		CacheExports:  opt.cacheTo,
		CacheImports:  opt.cacheFrom,
		Exports: []client.ExportEntry{{
			Type:   client.ExporterOCI,
			Output: func(map[string]string) (io.WriteCloser, error) { return os.Create(ociPath) },
		}},
	}, "", buildFunc, statusCh)
	<-done
	if err != nil {
		t.Logf("build log:\n%s", tail(logs.String(), 40))
		return nil, err
	}
	img := readOCI(t, ociPath)
	img.outputs = outputs
	img.cached, img.log, img.logAt, img.warnings, img.failedSteps = cached, logs.String(), logAt, warnings, failed
	return img, nil
}

// hiddenCaps is a gateway client whose daemon reports fewer capabilities,
// LLB or gateway ones, as an older BuildKit would.
type hiddenCaps struct {
	gateway.Client
	hide []apicaps.CapID
}

func (c hiddenCaps) BuildOpts() gateway.BuildOpts {
	o := c.Client.BuildOpts()
	o.LLBCaps = c.without(&pb.Caps, o.LLBCaps)
	o.Caps = c.without(&gwpb.Caps, o.Caps)
	return o
}

func (c hiddenCaps) without(all *apicaps.CapList, have apicaps.CapSet) apicaps.CapSet {
	var list []*apicapspb.APICap
	for _, cp := range all.All() {
		if have.Supports(apicaps.CapID(cp.ID)) == nil && !slices.Contains(c.hide, apicaps.CapID(cp.ID)) {
			list = append(list, cp)
		}
	}
	return all.CapSet(list)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// readOCI reads the single image, or image index, of an OCI export,
// validated. An index's images are in platforms, by platform.
func readOCI(t *testing.T, tarPath string) *image {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("tar", "-xf", tarPath, "-C", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("untar OCI export: %v: %s", err, out)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("want one image or index in the export, got %d", len(im.Manifests))
	}
	desc := im.Manifests[0]
	if desc.MediaType.IsIndex() {
		child, err := idx.ImageIndex(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Index(child, validate.Fast); err != nil {
			t.Fatalf("invalid image index: %v", err)
		}
		cm, err := child.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		multi := &image{digest: desc.Digest.String(), platforms: map[string]*image{}}
		for _, m := range cm.Manifests {
			if m.Platform == nil {
				t.Fatalf("the index lists %s without a platform", m.Digest)
			}
			img, err := child.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			p := m.Platform.OS + "/" + m.Platform.Architecture
			if _, dup := multi.platforms[p]; dup {
				t.Fatalf("the index lists %s twice", p)
			}
			multi.platforms[p] = imageOf(t, img, m.Digest.String())
		}
		return multi
	}
	img, err := idx.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return imageOf(t, img, desc.Digest.String())
}

// imageOf reads an image, validated.
func imageOf(t *testing.T, img v1.Image, dgst string) *image {
	t.Helper()
	if err := validateImage(img); err != nil {
		t.Fatalf("invalid image: %v", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return &image{img: img, config: cfg, files: filesOf(t, img), digest: dgst}
}

// validateImage is validate.Image, whose layer checks read gzip alone:
// an image with a zstd layer (the frontend's) gets its manifest and config
// checked by it, and each layer's digest and diff ID here.
func validateImage(img v1.Image) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	zstd := false
	for _, l := range layers {
		if mt, err := l.MediaType(); err == nil && mt == types.OCILayerZStd {
			zstd = true
		}
	}
	if !zstd {
		return validate.Image(img)
	}
	if err := validate.Image(img, validate.Fast); err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		return fmt.Errorf("%d layers, %d diff IDs in the config", len(layers), len(cfg.RootFS.DiffIDs))
	}
	for i, l := range layers {
		want, err := l.Digest()
		if err != nil {
			return err
		}
		for _, c := range []struct {
			open func() (io.ReadCloser, error)
			want v1.Hash
		}{{l.Compressed, want}, {l.Uncompressed, cfg.RootFS.DiffIDs[i]}} {
			rc, err := c.open()
			if err != nil {
				return err
			}
			got, _, err := v1.SHA256(rc)
			rc.Close()
			if err != nil {
				return err
			}
			if got != c.want {
				return fmt.Errorf("layer %d: sha256 %s, want %s", i, got, c.want)
			}
		}
	}
	return nil
}

// filesOf is an image's flattened filesystem, by path without leading /.
func filesOf(t *testing.T, img v1.Image) map[string]fileEntry {
	t.Helper()
	files := map[string]fileEntry{}
	eachTarEntry(t, mutate.Extract(img), func(h *tar.Header, r io.Reader) {
		data, _ := io.ReadAll(r)
		files[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = fileEntry{
			modTime: h.ModTime, mode: h.Mode, typeflag: h.Typeflag, linkname: h.Linkname, uid: h.Uid, gid: h.Gid, data: data,
		}
	})
	return files
}

// eachTarEntry calls fn for each entry of a tar stream, with its contents.
func eachTarEntry(t *testing.T, r io.Reader, fn func(*tar.Header, io.Reader)) {
	t.Helper()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		fn(h, tr)
	}
}

// storeEntries lists the top-level entries of /nix/store in the image.
func (i *image) storeEntries() []string {
	var out []string
	for name := range i.files {
		if rest, ok := strings.CutPrefix(name, "nix/store/"); ok && rest != "" && !strings.Contains(rest, "/") {
			out = append(out, "/"+name)
		}
	}
	sort.Strings(out)
	return out
}

// topLevel lists the entries at the image's root.
func (i *image) topLevel() []string {
	seen := map[string]bool{}
	for name := range i.files {
		seen[strings.SplitN(name, "/", 2)[0]] = true
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// errorLine is the first Nixfile line BuildKit attaches to err, or 0.
func errorLine(err error) int {
	for _, s := range errdefs.Sources(err) {
		if s.Info != nil && s.Info.Filename == "Nixfile" {
			for _, r := range s.Ranges {
				return int(r.Start.Line)
			}
		}
	}
	return 0
}

// errorLines are all the Nixfile lines BuildKit attaches to err.
func errorLines(err error) []int {
	var out []int
	for _, s := range errdefs.Sources(err) {
		if s.Info != nil && s.Info.Filename == "Nixfile" {
			for _, r := range s.Ranges {
				out = append(out, int(r.Start.Line))
			}
		}
	}
	return out
}

// nixClosure asks nix itself, in the nix test image and by another route
// than the frontend's (nix-build, then nix-store -qR), for the runtime
// closure of attributes of <nixpkgs>: the oracle the images are checked against.
func nixClosure(t *testing.T, bed *testbed.Bed, attrs ...string) []string {
	t.Helper()
	return nixClosureFor(t, bed, "", attrs...)
}

// nixClosureFor is nixClosure for a nix system ("" is nix's own): the
// package set called with that system, its outputs substituted from the
// nix image's binary cache.
func nixClosureFor(t *testing.T, bed *testbed.Bed, system string, attrs ...string) []string {
	t.Helper()
	var args []string
	if system != "" {
		args = append(args, "--argstr system "+system)
	}
	for _, a := range attrs {
		args = append(args, "-A "+a)
	}
	script := `set -e; nix-build '<nixpkgs>' ` + strings.Join(args, " ") + ` --no-out-link >/out/roots; nix-store --query --requisites $(cat /out/roots) | sort >/out/closure`
	out := runNix(t, bed, script, "closure")
	return strings.Fields(out)
}

// runNix runs a script in the nix test image and returns a file it wrote to /out.
func runNix(t *testing.T, bed *testbed.Bed, script, file string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := bed.Client(t)
	var data []byte
	_, err := c.Build(ctx, client.SolveOpt{}, "", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		st := llb.Image(bed.NixImage, llb.WithMetaResolver(gc))
		run := st.Run(llb.Args([]string{"/bin/sh", "-c", script}), llb.IgnoreCache)
		outSt := run.AddMount("/out", llb.Scratch())
		def, err := outSt.Marshal(ctx)
		if err != nil {
			return nil, err
		}
		res, err := gc.Solve(ctx, gateway.SolveRequest{Definition: def.ToPB()})
		if err != nil {
			return nil, err
		}
		ref, err := res.SingleRef()
		if err != nil {
			return nil, err
		}
		data, err = ref.ReadFile(ctx, gateway.ReadRequest{Filename: file})
		return gateway.NewResult(), err
	}, nil)
	if err != nil {
		t.Fatalf("running in the nix image: %v", err)
	}
	return string(data)
}

// busyboxPackage is a BUILD file: a derivation NAME of the test package set's
// system, built by busybox's sh -e running script (a Nix indented string:
// $out and ${busybox} are there, a literal % must be written %%).
func busyboxPackage(name, script string) string {
	return `{ busybox, system }: derivation {
  name = "` + name + `";
  inherit system;
  builder = "${busybox}/bin/sh";
  PATH = "${busybox}/bin";
  args = [ "-e" "-c" ''
` + script + `  '' ];
}
`
}
