package e2e

import (
	"reflect"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/internal/testbed"
)

// Images are runnable out of the box: users, /tmp, a CA bundle, /bin links,
// time zones and /etc/services when their packages are there; ROOTFS turns
// each off.
func TestRunnableOutOfTheBox(t *testing.T) {
	bed := testbed.Require(t)
	type check struct {
		args   []string
		stdout string // exact, unless contains is set
		// contains lists substrings stdout must have, instead of stdout.
		contains []string
	}
	tests := []struct {
		name    string
		nixfile string
		runs    []check
		// present and absent are paths (without leading /) in the image.
		present []string
		absent  []string
		env     map[string]string // must be in the config's Env
		noEnv   []string          // must not be in the config's Env
	}{
		{
			name:    "a named user with a home, writing to /tmp and home",
			nixfile: "PACKAGES busybox\nUSER app\n",
			runs: []check{
				{args: []string{"id"}, stdout: "uid=1000(app) gid=1000(app) groups=1000(app)\n"},
				{args: []string{"sh", "-c", "echo x >/tmp/f && cat /tmp/f && echo y >$HOME/f && cat $HOME/f && echo $HOME"}, stdout: "x\ny\n/home/app\n"},
				{args: []string{"stat", "-c", "%a %U:%G", "/tmp", "/home/app"}, stdout: "1777 root:root\n755 app:app\n"},
			},
			present: []string{"etc/passwd", "etc/group", "etc/nsswitch.conf", "tmp", "home/app"},
		},
		{
			name:    "WORKDIR exists and belongs to the USER",
			nixfile: "PACKAGES busybox\nUSER app\nWORKDIR /srv/data\n",
			runs: []check{
				{args: []string{"sh", "-c", "touch made && pwd && stat -c '%U %a' /srv/data"}, stdout: "/srv/data\napp 755\n"},
			},
		},
		{
			name:    "a numeric user and group",
			nixfile: "PACKAGES busybox\nUSER 2000:3000\n",
			runs: []check{
				{args: []string{"id"}, stdout: "uid=2000(user) gid=3000(user) groups=3000(user)\n"},
				{args: []string{"sh", "-c", "touch /home/user/ok && echo ok"}, stdout: "ok\n"},
			},
		},
		{
			name:    "sh through /bin/sh and /usr/bin/env",
			nixfile: "PACKAGES busybox hello\nCMD [\"sh\", \"-c\", \"echo ok\"]\n",
			runs: []check{
				{args: nil, stdout: "ok\n"},
				{args: []string{"/bin/sh", "-c", "echo ok"}, stdout: "ok\n"},
				{args: []string{"/usr/bin/env", "sh", "-c", "echo env-ok"}, stdout: "env-ok\n"},
				{args: []string{"/bin/hello"}, stdout: "Hello, world!\n"},
			},
		},
		{
			name:    "a CA bundle from a cacert package in the closure",
			nixfile: "PACKAGES busybox cacert\n",
			runs: []check{
				{args: []string{"sh", "-c", "head -c 27 /etc/ssl/certs/ca-bundle.crt; echo; head -c 27 /etc/ssl/certs/ca-certificates.crt; echo; echo $SSL_CERT_FILE; readlink /etc/ssl/certs/ca-bundle.crt"},
					contains: []string{"-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n/etc/ssl/certs/ca-bundle.crt\n/nix/store/", "-nss-cacert-3.0/etc/ssl/certs/ca-bundle.crt"}},
			},
			env: map[string]string{"SSL_CERT_FILE": "/etc/ssl/certs/ca-bundle.crt"},
		},
		{
			name:    "a CA bundle from the nix image when the closure has none",
			nixfile: "PACKAGES busybox\n",
			runs: []check{
				{args: []string{"sh", "-c", "head -c 27 /etc/ssl/certs/ca-bundle.crt; echo; head -c 27 /etc/ssl/certs/ca-certificates.crt; echo; echo $SSL_CERT_FILE"},
					stdout: "-----BEGIN CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\n/etc/ssl/certs/ca-bundle.crt\n"},
			},
			env: map[string]string{"SSL_CERT_FILE": "/etc/ssl/certs/ca-bundle.crt"},
		},
		{
			name:    "time zones, services and protocols when their packages are there",
			nixfile: "PACKAGES busybox tzdata iana-etc\n",
			runs: []check{
				{args: []string{"sh", "-c", "cat $TZDIR/Europe/Paris /etc/services /etc/protocols"}, stdout: "TZif2 fake Paris\nhttp\t\t80/tcp\t\twww\ntcp\t6\tTCP\n"},
			},
			env: map[string]string{"TZDIR": "/usr/share/zoneinfo"},
		},
		{
			name:    "ROOTFS none: nothing but the closure",
			nixfile: "PACKAGES busybox cacert tzdata\nROOTFS none\nUSER app\n",
			absent:  []string{"etc", "tmp", "bin", "usr", "home", "root"},
			noEnv:   []string{"SSL_CERT_FILE", "TZDIR"},
		},
		{
			name:    "ROOTFS turns defaults off one by one",
			nixfile: "PACKAGES busybox cacert\nROOTFS certs=off bin=off\n",
			present: []string{"etc/passwd", "tmp"},
			absent:  []string{"etc/ssl", "bin", "usr/bin/env"},
			noEnv:   []string{"SSL_CERT_FILE"},
		},
		{
			name:    "ROOTFS prefer says which package's command wins",
			nixfile: "PACKAGES busybox hello althello\nROOTFS prefer=althello\n",
			runs:    []check{{args: []string{"/bin/hello"}, stdout: "Hello from althello\n"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var runs [][]string
			for _, r := range tc.runs {
				runs = append(runs, r.args)
			}
			img, err := build(t, bed, writeContext(t, map[string]string{"Nixfile": tc.nixfile}), buildOpts{run: runs})
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			for i, r := range tc.runs {
				o := img.outputs[i]
				if o.err != nil {
					t.Errorf("%v: %v\nstderr: %s", r.args, o.err, o.stderr)
					continue
				}
				if r.contains != nil {
					for _, c := range r.contains {
						if !strings.Contains(o.stdout, c) {
							t.Errorf("%v printed %q, want it to contain %q", r.args, o.stdout, c)
						}
					}
				} else if o.stdout != r.stdout {
					t.Errorf("%v printed %q, want %q (stderr %q)", r.args, o.stdout, r.stdout, o.stderr)
				}
			}
			for _, p := range tc.present {
				if _, ok := img.files[p]; !ok {
					t.Errorf("the image lacks /%s", p)
				}
			}
			for _, p := range tc.absent {
				for name := range img.files {
					if name == p || strings.HasPrefix(name, p+"/") {
						t.Errorf("the image has /%s", name)
						break
					}
				}
			}
			env := map[string]string{}
			for _, e := range img.config.Config.Env {
				k, v, _ := strings.Cut(e, "=")
				env[k] = v
			}
			for k, v := range tc.env {
				if env[k] != v {
					t.Errorf("env %s=%q, want %q", k, env[k], v)
				}
			}
			for _, k := range tc.noEnv {
				if _, ok := env[k]; ok {
					t.Errorf("env has %s", k)
				}
			}
		})
	}
}

// Two requested packages with the same command fail the build, naming
// both, the lines that asked for them, and the way out.
func TestBinConflict(t *testing.T) {
	bed := testbed.Require(t)
	nixfile := "PACKAGES busybox\nPACKAGES hello\nPACKAGES althello\n"
	_, err := build(t, bed, writeContext(t, map[string]string{"Nixfile": nixfile}), buildOpts{})
	if err == nil {
		t.Fatal("the build succeeded")
	}
	for _, want := range []string{"both althello-2.0 and hello provide bin/hello", "ROOTFS prefer=althello"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
	if got := errorLines(err); !reflect.DeepEqual(got, []int{2, 3}) {
		t.Errorf("the error points at lines %v, want [2 3]", got)
	}
}

// The files the image gets besides its closure are the same on every
// build: fixed owners, modes and times.
func TestRootfsIsDeterministic(t *testing.T) {
	bed := testbed.Require(t)
	dir := writeContext(t, map[string]string{"Nixfile": "PACKAGES busybox cacert\nUSER app\n", "a.txt": "a\n"})
	first, err := build(t, bed, dir, buildOpts{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"etc/passwd", "tmp", "home/app", "bin/sh", "etc/ssl/certs/ca-bundle.crt"} {
		f, ok := first.files[p]
		if !ok {
			t.Fatalf("no /%s", p)
		}
		if f.modTime.Unix() != 0 {
			t.Errorf("/%s has time %v, want the epoch", p, f.modTime)
		}
	}
}
