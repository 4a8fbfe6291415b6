package e2e

import (
	"archive/tar"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/internal/testbed"
)

// Each Nixfile builds an image whose /nix/store is exactly the closure nix
// reports for the same packages, and whose entrypoint prints what it should.
func TestImagesAreExactlyTheClosure(t *testing.T) {
	bed := testbed.Require(t)
	tests := []struct {
		name    string
		nixfile string
		files   map[string]string
		pkgsDir string // copy the test package set into the context here
		attrs   map[string]string
		// closureOf are <nixpkgs> attributes whose closure the image must be.
		closureOf []string
		run       []string // nil: the image's entrypoint and cmd
		stdout    string
		// files that must be in the image, relative to the store path named.
		storeFiles map[string]string // store path name → file under it
	}{
		{
			name:      "a package with a runtime dependency",
			nixfile:   "PACKAGES hello\nENTRYPOINT [\"hello\"]\n",
			closureOf: []string{"hello"},
			stdout:    "Hello, world!\n",
		},
		{
			name:      "a closure three deep, plain-words entrypoint",
			nixfile:   "PACKAGES greeter\nENTRYPOINT greeter\n",
			closureOf: []string{"greeter"},
			stdout:    "greeter says: Hello, world!\n",
		},
		{
			name:       "nested attribute path and odd store path names",
			nixfile:    "# syntax=ignored/by/in-process/builds\npackages tools.greet odd\nCMD [\"greet\", \"world\"]\n",
			closureOf:  []string{"tools.greet", "odd"},
			stdout:     "greet: world\n",
			storeFiles: map[string]string{"odd+name_v1.0-x?=y": "share/with spaces/a file.txt"},
		},
		{
			name:      "the order of names does not matter",
			nixfile:   "PACKAGES odd tools.greet\nCMD [\"greet\", \"world\"]\n",
			closureOf: []string{"tools.greet", "odd"},
			stdout:    "greet: world\n",
		},
		{
			name:      "a multi-output package installs its default output",
			nixfile:   "PACKAGES libfoo hello\nCMD [\"hello\"]\n",
			closureOf: []string{"libfoo.out", "hello"},
			stdout:    "Hello, world!\n",
		},
		{
			name:      "a named output of a multi-output package",
			nixfile:   "PACKAGES libfoo.dev hello\nCMD [\"hello\"]\n",
			closureOf: []string{"libfoo.dev", "hello"},
			stdout:    "Hello, world!\n",
		},
		{
			name:      "an output that is a single file",
			nixfile:   "PACKAGES motd busybox\nCMD [\"cat\", \"/nix/store\"]\n",
			closureOf: []string{"motd", "busybox"},
			run:       []string{"sh", "-c", "cat /nix/store/*-motd.txt"},
			stdout:    "welcome to nixfile\n",
		},
		{
			name:      "a package set from the build context",
			nixfile:   "NIXPKGS ./pkgs\nPACKAGES hello\nENTRYPOINT [\"hello\"]\n",
			pkgsDir:   "pkgs",
			closureOf: []string{"hello"},
			stdout:    "Hello, world!\n",
		},
		{
			name:      "a flake output from the build context",
			nixfile:   "FLAKE ./pkgs#greeter\nENTRYPOINT [\"greeter\"]\n",
			pkgsDir:   "pkgs",
			closureOf: []string{"greeter"},
			stdout:    "greeter says: Hello, world!\n",
		},
		{
			name:    "a .nix file of the build context, called with the package set",
			nixfile: "BUILD app.nix\nENTRYPOINT [\"app\"]\n",
			files: map[string]string{"app.nix": `{ busybox, system }:
derivation {
  name = "app-1.0";
  inherit system;
  builder = "${busybox}/bin/sh";
  args = [ "-c" "${busybox}/bin/mkdir -p $out/bin; printf '#!${busybox}/bin/sh\necho app ok\n' > $out/bin/app; ${busybox}/bin/chmod +x $out/bin/app" ];
}
`},
			closureOf: []string{"busybox"},
			stdout:    "app ok\n",
		},
		{
			name:      "build args choose the packages",
			nixfile:   "ARG PKGS=\"hello greeter\"\nPACKAGES $PKGS\nENTRYPOINT [\"${ENTRY}\"]\nARG ENTRY=greet\n",
			attrs:     map[string]string{"build-arg:PKGS": "tools.greet"},
			closureOf: []string{"tools.greet"},
			run:       []string{"greet", "args"},
			stdout:    "greet: args\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"Nixfile": tc.nixfile}
			for k, v := range tc.files {
				files[k] = v
			}
			dir := writeContext(t, files)
			if tc.pkgsDir != "" {
				withTestPkgs(t, bed, dir, tc.pkgsDir)
			}
			img, err := build(t, bed, dir, buildOpts{attrs: tc.attrs, run: [][]string{tc.run}})
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			want := nixClosure(t, bed, tc.closureOf...)
			got := img.storeEntries()
			if strings.HasPrefix(tc.name, "a .nix file") {
				// The app itself is not in <nixpkgs>: the closure is busybox's plus it.
				if len(got) != len(want)+1 || !containsAll(got, want) || !anyHasSuffix(got, "-app-1.0") {
					t.Fatalf("store entries %v, want %v and app-1.0", got, want)
				}
			} else if !reflect.DeepEqual(got, want) {
				t.Fatalf("store entries differ from the closure\n got: %v\nwant: %v", got, want)
			}
			for _, top := range img.topLevel() {
				if !rootfsTop[top] {
					t.Errorf("image root has /%s, want only /nix and the rootfs defaults", top)
				}
			}
			for name, file := range tc.storeFiles {
				found := false
				for _, p := range got {
					if strings.HasSuffix(p, "-"+name) {
						_, found = img.files[strings.TrimPrefix(p, "/")+"/"+file]
					}
				}
				if !found {
					t.Errorf("no %s in store path %s", file, name)
				}
			}
			o := img.outputs[0]
			if o.err != nil {
				t.Fatalf("running the image: %v\nstderr: %s", o.err, o.stderr)
			}
			if o.stdout != tc.stdout {
				t.Errorf("the image printed %q, want %q (stderr %q)", o.stdout, tc.stdout, o.stderr)
			}
		})
	}
}

// rootfsTop are the top-level entries an image may have besides /nix (see
// TestRunnableOutOfTheBox for what is in them).
var rootfsTop = map[string]bool{"nix": true, "etc": true, "tmp": true, "bin": true, "usr": true, "root": true, "home": true}

func containsAll(got, want []string) bool {
	set := map[string]bool{}
	for _, g := range got {
		set[g] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

func anyHasSuffix(list []string, suffix string) bool {
	for _, s := range list {
		if strings.HasSuffix(s, suffix) {
			return true
		}
	}
	return false
}

// sorted returns a sorted copy.
func sorted(in []string) []string {
	out := append([]string(nil), in...)
	sort.Strings(out)
	return out
}

// COPY's JSON form takes each string as one path: names with spaces and
// quotes reach the image as they are in the context.
func TestCopyJSONForm(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{
		"Nixfile":     "ROOTFS none\nARG APP='my app'\nCOPY [\"my file.txt\", \"it's.conf\", \"/etc/$APP/\"]\n",
		"my file.txt": "spaces\n",
		"it's.conf":   "quote\n",
	})
	img, err := build(t, bed, dir, buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"etc/my app/my file.txt": "spaces\n", "etc/my app/it's.conf": "quote\n"} {
		if f, ok := img.files[name]; !ok || string(f.data) != want {
			t.Errorf("%s is %q (present: %t), want %q", name, f.data, ok, want)
		}
	}
}

// COPY --from copies from a named build context (here an image given as
// --build-context) or, for a name that is none, from the image of that
// name, with paths from its root, as a Dockerfile's COPY --from; a build
// whose COPYs are all --from needs no build context.
func TestCopyFrom(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{
		"Nixfile": "ROOTFS none\nARG FRONTEND\n" +
			"COPY --from=$FRONTEND /frontend /opt/by-image/\n" +
			"COPY --from=tools frontend /opt/by-context/\n",
	})
	img, err := build(t, bed, dir, buildOpts{noContext: true, attrs: map[string]string{
		"build-arg:FRONTEND": bed.FrontendImage,
		"context:tools":      "docker-image://" + bed.FrontendImage,
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"opt/by-image/frontend", "opt/by-context/frontend"} {
		f, ok := img.files[name]
		if !ok || f.typeflag != tar.TypeReg || len(f.data) < 1<<20 || f.mode&0o111 == 0 {
			t.Errorf("%s: present %t, %d bytes, mode %o; want the frontend's executable", name, ok, len(f.data), f.mode)
		}
	}
}

// COPY --from a named context that is a local directory of the client
// (--build-context NAME=DIR) copies from that directory, leaving out what
// its own .dockerignore does, as a Dockerfile's COPY --from does.
func TestCopyFromLocalNamedContext(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{
		"Nixfile":    "ROOTFS none\nCOPY --from=assets conf/ /etc/app/\nCOPY --from=assets [\"with space.txt\", \"/srv/\"]\n",
		"conf/wrong": "the build context's, not the named context's\n",
	})
	assets := writeContext(t, map[string]string{
		".dockerignore":  "conf/*.secret\n",
		"conf/app.conf":  "port = 8080\n",
		"conf/db.secret": "left out\n",
		"with space.txt": "spaced\n",
		"conf/sub/extra": "nested\n",
	})
	img, err := build(t, bed, dir, buildOpts{
		locals: map[string]string{"assets": assets},
		attrs:  map[string]string{"context:assets": "local:assets"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"etc/app/app.conf": "port = 8080\n", "etc/app/sub/extra": "nested\n", "srv/with space.txt": "spaced\n"}
	var got []string
	for name, f := range img.files {
		if f.typeflag != tar.TypeReg {
			continue
		}
		if strings.HasPrefix(name, "etc/app/") || strings.HasPrefix(name, "srv/") {
			got = append(got, name)
			if w, ok := want[name]; ok && string(f.data) != w {
				t.Errorf("/%s holds %q, want %q", name, f.data, w)
			}
		}
	}
	sort.Strings(got)
	if wantNames := slices.Sorted(maps.Keys(want)); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("the image has %q, want %q", got, wantNames)
	}
}

// COPY --exclude leaves out what its patterns match under each source, on
// a real BuildKit, as a Dockerfile's does; --link changes nothing.
func TestCopyExclude(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{
		"Nixfile": "ROOTFS none\nARG SKIP=*.tmp\n" +
			"COPY --exclude=*.md --exclude=$SKIP --exclude=**/test --link src/ /app/\n",
		"src/README.md":       "docs\n",
		"src/main.conf":       "conf\n",
		"src/cache.tmp":       "tmp\n",
		"src/sub/notes.md":    "kept: *.md matches at the top only\n",
		"src/sub/test/case":   "left out\n",
		"src/sub/data":        "data\n",
		"src/test/other/file": "left out\n",
	})
	img, err := build(t, bed, dir, buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for name, f := range img.files {
		if strings.HasPrefix(name, "app/") && f.typeflag == tar.TypeReg {
			got = append(got, name)
		}
	}
	sort.Strings(got)
	if want := []string{"app/main.conf", "app/sub/data", "app/sub/notes.md"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the image's /app has the files %q, want %q", got, want)
	}
}
