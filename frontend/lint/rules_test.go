package lint

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nixfile/nixfile/frontend/nixfile"
)

// want is one expected warning: its line (0 for the whole file) and message.
type want struct {
	line    int
	message string
}

type ruleTest struct {
	name    string
	nixfile string
	args    map[string]string
	want    []want
}

// runRule checks src with only the named rule, and compares the warnings
// with want, in order.
func runRule(t *testing.T, rule string, tests []ruleTest) {
	t.Helper()
	if RuleByName(rule) == nil {
		t.Fatalf("no rule %s", rule)
	}
	var skip []string
	for _, r := range Rules() {
		if r.Name != rule {
			skip = append(skip, r.Name)
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := nixfile.Parse([]byte(tc.nixfile))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := Check(f, Options{BuildArgs: tc.args, Skip: skip})
			for i := 0; i < max(len(got), len(tc.want)); i++ {
				switch {
				case i >= len(got):
					t.Errorf("missing warning: line %d: %s", tc.want[i].line, tc.want[i].message)
				case i >= len(tc.want):
					t.Errorf("unexpected warning: %s: line %d: %s", got[i].Rule, got[i].Line(), got[i].Message)
				default:
					g, w := got[i], tc.want[i]
					if g.Rule != rule {
						t.Errorf("warning %d: rule %s, want %s", i, g.Rule, rule)
					}
					if g.Line() != w.line || g.Message != w.message {
						t.Errorf("warning %d:\n got line %d: %s\nwant line %d: %s", i, g.Line(), g.Message, w.line, w.message)
					}
				}
			}
		})
	}
}

// nf joins lines into a Nixfile.
func nf(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

const pinned = "NIXPKGS github:NixOS/nixpkgs/" + rev

func TestUnpinnedPackageSet(t *testing.T) {
	runRule(t, "UnpinnedPackageSet", []ruleTest{
		{
			name:    "no NIXPKGS",
			nixfile: nf("# syntax=nixfile/nixfile", "USER app", "PACKAGES hello"),
			want: []want{{3, "No NIXPKGS, so PACKAGES reads the nix image's <nixpkgs>, which changes with the nix image; " +
				"pin a revision: NIXPKGS github:NixOS/nixpkgs/<40-hex rev>"}},
		},
		{
			name:    "no NIXPKGS, BUILD reads it",
			nixfile: nf("BUILD app.nix", "PACKAGES hello"),
			want: []want{{1, "No NIXPKGS, so BUILD reads the nix image's <nixpkgs>, which changes with the nix image; " +
				"pin a revision: NIXPKGS github:NixOS/nixpkgs/<40-hex rev>"}},
		},
		{
			name:    "no NIXPKGS, not read",
			nixfile: nf("FLAKE github:owner/repo/"+rev+"#app", "COPY a /a"),
		},
		{
			name:    "NIX_PATH entry",
			nixfile: nf("NIXPKGS <nixpkgs>", "PACKAGES hello"),
			want: []want{{1, "NIXPKGS <nixpkgs> is the <nixpkgs> entry of the nix image's NIX_PATH, which changes with the nix image; " +
				"pin it: NIXPKGS github:NixOS/nixpkgs/<40-hex rev>"}},
		},
		{
			name:    "flake without ref",
			nixfile: nf("PACKAGES hello", "NIXPKGS github:NixOS/nixpkgs"),
			want: []want{{2, "NIXPKGS github:NixOS/nixpkgs has no revision, so it follows the default branch; " +
				"pin it: NIXPKGS github:NixOS/nixpkgs/<40-hex rev>"}},
		},
		{
			name:    "flake branch",
			nixfile: nf("NIXPKGS github:NixOS/nixpkgs/nixos-24.05", "PACKAGES hello"),
			want: []want{{1, "NIXPKGS github:NixOS/nixpkgs/nixos-24.05 names the branch or tag nixos-24.05, not a revision; " +
				"pin it: NIXPKGS github:NixOS/nixpkgs/<40-hex rev>"}},
		},
		{
			name:    "branch from a build arg default",
			nixfile: nf("ARG CHANNEL=nixos-24.05", "NIXPKGS github:NixOS/nixpkgs/${CHANNEL}", "PACKAGES hello"),
			want: []want{{2, "NIXPKGS github:NixOS/nixpkgs/nixos-24.05 (from github:NixOS/nixpkgs/${CHANNEL}) names the branch or tag nixos-24.05, not a revision; " +
				"pin it: NIXPKGS github:NixOS/nixpkgs/<40-hex rev>"}},
		},
		{
			name:    "revision from --build-arg",
			nixfile: nf("ARG CHANNEL=nixos-24.05", "NIXPKGS github:NixOS/nixpkgs/${CHANNEL}", "PACKAGES hello"),
			args:    map[string]string{"CHANNEL": rev},
		},
		{
			name:    "value depends on the platform",
			nixfile: nf("ARG NIX_SYSTEM", "NIXPKGS github:NixOS/nixpkgs/$NIX_SYSTEM", "PACKAGES hello"),
		},
		{
			name:    "tarball without sha256",
			nixfile: nf("NIXPKGS https://github.com/NixOS/nixpkgs/archive/"+rev+".tar.gz", "PACKAGES hello"),
			want: []want{{1, "NIXPKGS https://github.com/NixOS/nixpkgs/archive/" + rev + ".tar.gz has no sha256:, so its content is not checked; " +
				"pin it: NIXPKGS https://github.com/NixOS/nixpkgs/archive/" + rev + ".tar.gz sha256:HASH " +
				"(nix-prefetch-url --unpack https://github.com/NixOS/nixpkgs/archive/" + rev + ".tar.gz prints it)"}},
		},
		{
			name:    "tarball with sha256",
			nixfile: nf("NIXPKGS https://github.com/NixOS/nixpkgs/archive/"+rev+".tar.gz sha256:1abcd", "PACKAGES hello"),
		},
		{name: "revision", nixfile: nf(pinned, "PACKAGES hello")},
		{name: "registry revision", nixfile: nf("NIXPKGS nixpkgs/"+rev, "PACKAGES hello")},
		{name: "context directory", nixfile: nf("NIXPKGS ./vendor/nixpkgs", "PACKAGES hello")},
		{name: "context flake", nixfile: nf("NIXPKGS path:./vendor/nixpkgs", "PACKAGES hello")},
	})
}

func TestUnpinnedFlake(t *testing.T) {
	runRule(t, "UnpinnedFlake", []ruleTest{
		{
			name:    "github without ref",
			nixfile: nf("FLAKE github:owner/repo#app"),
			want: []want{{1, "FLAKE github:owner/repo has no revision, so it follows the default branch; " +
				"pin it: github:owner/repo/<40-hex rev>"}},
		},
		{
			name:    "one warning per reference",
			nixfile: nf(pinned, "FLAKE . nixpkgs/nixos-24.05#hello \\", "  git+https://example.com/r.git#tool"),
			want: []want{
				{2, "FLAKE nixpkgs/nixos-24.05 names the branch or tag nixos-24.05, not a revision; pin it: nixpkgs/<40-hex rev>"},
				{2, "FLAKE git+https://example.com/r.git has no rev=, so it follows the default branch; " +
					"pin it: git+https://example.com/r.git?rev=<40-hex rev>"},
			},
		},
		{
			name:    "registry name that meant a directory",
			nixfile: nf("FLAKE tools#cli"),
			want: []want{{1, "FLAKE tools is the flake registry's entry tools, which follows a branch " +
				"(a directory of the build context is ./tools); pin it: tools/<40-hex rev>"}},
		},
		{
			name:    "reference from a variable",
			nixfile: nf("ARG REPO=github:owner/repo", "FLAKE ${REPO}#app"),
			want: []want{{2, "FLAKE github:owner/repo has no revision, so it follows the default branch; " +
				"pin it: github:owner/repo/<40-hex rev>"}},
		},
		{name: "revision", nixfile: nf("FLAKE github:owner/repo/" + rev + "#app")},
		{name: "rev query", nixfile: nf("FLAKE git+https://example.com/r.git?ref=main&rev=" + rev + "#app")},
		{name: "context flakes", nixfile: nf("FLAKE . .#app ./tools#cli path:tools#x")},
	})
}

func TestRunsAsRoot(t *testing.T) {
	runRule(t, "RunsAsRoot", []ruleTest{
		{
			name:    "no USER",
			nixfile: nf(pinned, "PACKAGES hello"),
			want:    []want{{0, "No USER, so the image runs as root; run it as an unprivileged user: USER app (the image gets the account)"}},
		},
		{
			name:    "USER root",
			nixfile: nf("USER root", "PACKAGES hello"),
			want:    []want{{1, "USER root runs the image as root; run it as an unprivileged user: USER app (the image gets the account)"}},
		},
		{
			name:    "USER 0:0",
			nixfile: nf("PACKAGES hello", "USER 0:0"),
			want:    []want{{2, "USER 0:0 runs the image as root; run it as an unprivileged user: USER app (the image gets the account)"}},
		},
		{
			name:    "root from a variable",
			nixfile: nf("ARG RUNAS=root", "USER $RUNAS"),
			want:    []want{{2, "USER root (from $RUNAS) runs the image as root; run it as an unprivileged user: USER app (the image gets the account)"}},
		},
		{
			name:    "the last USER counts",
			nixfile: nf("USER app", "USER root"),
			want:    []want{{2, "USER root runs the image as root; run it as an unprivileged user: USER app (the image gets the account)"}},
		},
		{name: "USER app", nixfile: nf("PACKAGES hello", "USER app")},
		{name: "root group is fine", nixfile: nf("USER app:root")},
		{name: "last USER is not root", nixfile: nf("USER root", "USER 1000:1000")},
		{name: "user from --build-arg", nixfile: nf("ARG RUNAS=root", "USER $RUNAS"), args: map[string]string{"RUNAS": "app"}},
	})
}

func TestNetworkToolWithoutCABundle(t *testing.T) {
	fix := "so certificates cannot be verified; keep the bundle (ROOTFS certs=on), or set SSL_CERT_FILE to a bundle you COPY in"
	runRule(t, "NetworkToolWithoutCABundle", []ruleTest{
		{
			name:    "certs=off",
			nixfile: nf(pinned, "PACKAGES hello curl", "ROOTFS certs=off"),
			want:    []want{{2, "curl makes TLS connections, but ROOTFS certs=off (line 3) leaves the image without a CA bundle, " + fix}},
		},
		{
			name:    "ROOTFS none, several tools, outputs and versions",
			nixfile: nf("ROOTFS none", "PACKAGES git curl.bin python312", "PACKAGES hello", "PACKAGES nodejs_20 go_1_22 openssl.out"),
			want: []want{
				{2, "git, curl and python312 make TLS connections, but ROOTFS none (line 1) leaves the image without a CA bundle, " + fix},
				{4, "nodejs_20, go_1_22 and openssl make TLS connections, but ROOTFS none (line 1) leaves the image without a CA bundle, " + fix},
			},
		},
		{
			name:    "flake fragment",
			nixfile: nf("FLAKE github:NixOS/nixpkgs/"+rev+"#wget", "ROOTFS certs=no"),
			want:    []want{{1, "wget makes TLS connections, but ROOTFS certs=no (line 2) leaves the image without a CA bundle, " + fix}},
		},
		{
			name:    "package from a variable",
			nixfile: nf("ARG TOOLS=\"jq curl\"", "PACKAGES $TOOLS", "ROOTFS certs=off"),
			want:    []want{{2, "curl makes TLS connections, but ROOTFS certs=off (line 3) leaves the image without a CA bundle, " + fix}},
		},
		{name: "certs on", nixfile: nf("PACKAGES curl git")},
		{name: "certs turned back on", nixfile: nf("ROOTFS none", "ROOTFS certs=on", "PACKAGES curl")},
		{name: "other settings off", nixfile: nf("ROOTFS bin=off tmp=off", "PACKAGES curl")},
		{name: "no network tool", nixfile: nf("ROOTFS none", "PACKAGES hello jq busybox curlie python3Packages.requests")},
		{name: "SSL_CERT_FILE set", nixfile: nf("ROOTFS none", "PACKAGES curl cacert", "ENV SSL_CERT_FILE=/etc/ca.pem")},
		{name: "ROOTFS from an unknown value", nixfile: nf("ARG NIX_SYSTEM", "ROOTFS certs=$NIX_SYSTEM", "PACKAGES curl")},
	})
}

func TestUndefinedVariable(t *testing.T) {
	runRule(t, "UndefinedVariable", []ruleTest{
		{
			name:    "undefined",
			nixfile: nf("PACKAGES $TOOLS"),
			want:    []want{{1, "Usage of undefined variable '$TOOLS'"}},
		},
		{
			// The names of one ARG line come into scope one after the
			// other, as in a Dockerfile.
			name:    "one ARG line with several names",
			nixfile: nf("ARG A=1 B=$A C=$D E=$F", "LABEL b=$B e=$E"),
			want: []want{
				{1, "Usage of undefined variable '$D'"},
				{1, "Usage of undefined variable '$F'"},
			},
		},
		{
			name:    "suggestion",
			nixfile: nf("ARG VERSION=1", "ENV APP_HOME=/srv", "LABEL version=$VERSON home=${app_home}"),
			want: []want{
				{3, "Usage of undefined variable '$VERSON' (did you mean $VERSION?)"},
				{3, "Usage of undefined variable '$app_home' (did you mean $APP_HOME?)"},
			},
		},
		{
			name:    "ARG after the use",
			nixfile: nf("NIXPKGS nixpkgs/$REV", "ARG REV="+rev),
			want:    []want{{1, "Usage of undefined variable '$REV' (ARG REV is on line 2, after this use: variables are defined from their line on)"}},
		},
		{
			name:    "ENV later on the same line",
			nixfile: nf("ENV A=$B B=1"),
			want:    []want{{1, "Usage of undefined variable '$B' (ENV B is on line 1, after this use: variables are defined from their line on)"}},
		},
		{
			name:    "automatic argument without ARG",
			nixfile: nf("LABEL arch=$TARGETARCH"),
			want:    []want{{1, "Usage of undefined variable '$TARGETARCH' (an automatic build argument has a value only after ARG TARGETARCH)"}},
		},
		{
			name:    "build arg without ARG",
			nixfile: nf("LABEL v=${VERSION:-dev}"),
			args:    map[string]string{"VERSION": "1.0"},
			want:    []want{{1, "Usage of undefined variable '$VERSION' (--build-arg VERSION is given, but only an ARG VERSION line above makes it a variable)"}},
		},
		{
			name:    "plain CMD is expanded at build time",
			nixfile: nf("CMD echo $HOME"),
			want:    []want{{1, "Usage of undefined variable '$HOME'; CMD is expanded when the image is built, not when it runs"}},
		},
		{
			name: "every expanded place, once per line",
			nixfile: nf(
				"ARG D=$A",
				"BUILD $B.nix $B",
				"COPY --chmod=$C --chown=$C $C /dst",
				"VOLUME [\"/data/$E\"]",
				"WORKDIR /$F",
				"EXPOSE $G",
				"STOPSIGNAL $H",
				"ENTRYPOINT hello ${I}",
				"ROOTFS $J",
				"ARG K=${X:-$Y}",
			),
			want: []want{
				{1, "Usage of undefined variable '$A'"},
				{2, "Usage of undefined variable '$B'"},
				{3, "Usage of undefined variable '$C'"},
				{4, "Usage of undefined variable '$E'"},
				{5, "Usage of undefined variable '$F'"},
				{6, "Usage of undefined variable '$G'"},
				{7, "Usage of undefined variable '$H'"},
				{8, "Usage of undefined variable '$I'; ENTRYPOINT is expanded when the image is built, not when it runs"},
				{9, "Usage of undefined variable '$J'"},
				{10, "Usage of undefined variable '$X'"},
				{10, "Usage of undefined variable '$Y'"},
			},
		},
		{
			name: "defined, quoted and escaped",
			nixfile: nf(
				"ARG TOOLS",
				"ARG TARGETARCH",
				"ENV APP=/srv PATH=$APP/bin:$PATH",
				"PACKAGES $TOOLS",
				"LABEL arch=$TARGETARCH lit='$NOPE' esc=\\$NOPE dq=\"\\$NOPE\"",
				"ENTRYPOINT [\"sh\", \"-c\", \"echo $HOME\"]",
				"CMD sh -c 'echo $HOME'",
			),
		},
		{
			// $5 is no parameter in a Nixfile: it expands to nothing.
			name:    "a digit",
			nixfile: nf("LABEL cost=$5"),
			want:    []want{{1, "Usage of undefined variable '$5'"}},
		},
	})
}

func TestDuplicateInstruction(t *testing.T) {
	runRule(t, "DuplicateInstruction", []ruleTest{
		{
			name:    "two CMD",
			nixfile: nf("PACKAGES hello", "CMD [\"hello\"]", "ENTRYPOINT [\"x\"]", "CMD [\"hello\", \"-g\", \"hi\"]"),
			want:    []want{{2, "Only the last CMD counts: the CMD on line 4 replaces this one"}},
		},
		{
			name:    "three ENTRYPOINT, USER and STOPSIGNAL",
			nixfile: nf("ENTRYPOINT a", "ENTRYPOINT b", "USER app", "ENTRYPOINT c", "STOPSIGNAL SIGINT", "USER root", "STOPSIGNAL SIGTERM"),
			want: []want{
				{1, "Only the last ENTRYPOINT counts: the ENTRYPOINT on line 2 replaces this one"},
				{2, "Only the last ENTRYPOINT counts: the ENTRYPOINT on line 4 replaces this one"},
				{3, "Only the last USER counts: the USER on line 6 replaces this one"},
				{5, "Only the last STOPSIGNAL counts: the STOPSIGNAL on line 7 replaces this one"},
			},
		},
		{
			name:    "two HEALTHCHECK",
			nixfile: nf("HEALTHCHECK CMD [\"true\"]", "HEALTHCHECK NONE"),
			want:    []want{{1, "Only the last HEALTHCHECK counts: the HEALTHCHECK on line 2 replaces this one"}},
		},
		{
			name:    "WORKDIR replaced before use",
			nixfile: nf("WORKDIR /srv", "COPY a /abs/a", "WORKDIR /app"),
			want:    []want{{1, "WORKDIR /srv has no effect: WORKDIR /app on line 3 replaces it before a COPY or a relative WORKDIR uses it"}},
		},
		{name: "WORKDIR used by a relative WORKDIR", nixfile: nf("WORKDIR /srv", "WORKDIR app")},
		{
			name:    "relative WORKDIR replaced before use",
			nixfile: nf("WORKDIR /srv", "WORKDIR app", "WORKDIR /other"),
			want:    []want{{2, "WORKDIR app has no effect: WORKDIR /other on line 3 replaces it before a COPY or a relative WORKDIR uses it"}},
		},
		{name: "WORKDIR used by COPY", nixfile: nf("WORKDIR /srv", "COPY a conf/", "WORKDIR /app")},
		{name: "WORKDIR used by COPY with a variable", nixfile: nf("ARG D=x", "WORKDIR /srv", "COPY a $D", "WORKDIR /app")},
		{name: "one of each", nixfile: nf("ENTRYPOINT [\"a\"]", "CMD [\"b\"]", "USER app", "WORKDIR /srv", "STOPSIGNAL SIGINT")},
		{name: "repeated accumulating instructions", nixfile: nf("PACKAGES a", "PACKAGES b", "ENV A=1", "ENV A=2", "LABEL a=1", "LABEL a=2", "EXPOSE 80", "EXPOSE 81", "ROOTFS tmp=off", "ROOTFS bin=off")},
	})
}

func TestShellFormNeedsShell(t *testing.T) {
	runRule(t, "ShellFormNeedsShell", []ruleTest{
		{
			name:    "and",
			nixfile: nf("CMD hello && world"),
			want: []want{{1, `CMD runs without a shell: "&&" is passed to the program as a literal argument, not read as shell syntax; ` +
				`for a shell, install one and write CMD ["sh", "-c", "hello && world"], or quote "&&" to mean it literally`}},
		},
		{
			name:    "pipe in a word, continued line",
			nixfile: nf("ENTRYPOINT app --log \\", "  debug|tee out"),
			want: []want{{1, `ENTRYPOINT runs without a shell: "|" is passed to the program as a literal argument, not read as shell syntax; ` +
				`for a shell, install one and write ENTRYPOINT ["sh", "-c", "app --log   debug|tee out"], or quote "|" to mean it literally`}},
		},
		{
			name:    "redirection",
			nixfile: nf("CMD app 2>&1"),
			want: []want{{1, `CMD runs without a shell: "2>&1" is passed to the program as a literal argument, not read as shell syntax; ` +
				`for a shell, install one and write CMD ["sh", "-c", "app 2>&1"], or quote "2>&1" to mean it literally`}},
		},
		{
			name:    "semicolon",
			nixfile: nf("CMD cd /srv; app"),
			want: []want{{1, `CMD runs without a shell: ";" is passed to the program as a literal argument, not read as shell syntax; ` +
				`for a shell, install one and write CMD ["sh", "-c", "cd /srv; app"], or quote ";" to mean it literally`}},
		},
		{
			name:    "command substitution, also in double quotes",
			nixfile: nf(`CMD echo "today is $(date)"`),
			want: []want{{1, `CMD runs without a shell: "$(" is passed to the program as a literal argument, not read as shell syntax; ` +
				`for a shell, install one and write CMD ["sh", "-c", "echo \"today is $(date)\""], or quote "$(" to mean it literally`}},
		},
		{
			name:    "variable assignment",
			nixfile: nf("CMD PORT=8080 app"),
			want: []want{{1, `CMD runs without a shell: PORT=8080 is taken as the program to run, not as a variable assignment; ` +
				`set the variable with ENV PORT=8080, or, for a shell, install one and write CMD ["sh", "-c", "PORT=8080 app"]`}},
		},
		{
			name:    "comment",
			nixfile: nf("CMD app --verbose # be loud"),
			want: []want{{1, `CMD runs without a shell: "#" is passed to the program as a literal argument, not read as shell syntax; ` +
				`for a shell, install one and write CMD ["sh", "-c", "app --verbose # be loud"], or quote "#" to mean it literally`}},
		},
		{
			// The suggestion keeps HEALTHCHECK's flags.
			name:    "HEALTHCHECK or",
			nixfile: nf("PACKAGES curl", "HEALTHCHECK --interval=5m --timeout=3s \\", "  CMD curl -f http://localhost/ || exit 1"),
			want: []want{{2, `HEALTHCHECK runs without a shell: "||" is passed to the program as a literal argument, not read as shell syntax; ` +
				`for a shell, install one and write HEALTHCHECK --interval=5m --timeout=3s CMD ["sh", "-c", "curl -f http://localhost/ || exit 1"], or quote "||" to mean it literally`}},
		},
		{name: "HEALTHCHECK JSON form and NONE", nixfile: nf(`HEALTHCHECK CMD ["sh", "-c", "a || b"]`, "HEALTHCHECK NONE")},
		{name: "plain words", nixfile: nf("CMD hello --greeting \"hi there\" --x=a=b --tag=v#1 '#x'")},
		{name: "quoted operators", nixfile: nf(`CMD grep "a|b" 'x > y' \; \$(x) '$(x)' "\$(x)"`)},
		{name: "JSON form", nixfile: nf(`CMD ["sh", "-c", "a && b | c > d"]`, `ENTRYPOINT ["a;b"]`)},
		{name: "assignment not first", nixfile: nf("CMD app --opt=PORT=1 KEY=v")},
	})
}

func TestEmptyImage(t *testing.T) {
	runRule(t, "EmptyImage", []ruleTest{
		{
			name:    "only config",
			nixfile: nf("# syntax=nixfile/nixfile", pinned, "ENV A=1", "CMD [\"x\"]"),
			want:    []want{{0, "The image is empty: without PACKAGES, FLAKE, BUILD or COPY it has nothing to run"}},
		},
		{
			name:    "no instructions",
			nixfile: nf("# syntax=nixfile/nixfile", "# nothing"),
			want:    []want{{0, "The image is empty: without PACKAGES, FLAKE, BUILD or COPY it has nothing to run"}},
		},
		{name: "PACKAGES", nixfile: nf("PACKAGES hello")},
		{name: "FLAKE", nixfile: nf("FLAKE .#app")},
		{name: "BUILD", nixfile: nf("BUILD app.nix")},
		{name: "COPY", nixfile: nf("COPY bin /bin")},
	})
}

func TestKeywordCase(t *testing.T) {
	runRule(t, "KeywordCase", []ruleTest{
		{
			name:    "mixed-case keyword",
			nixfile: nf("NIXPKGS ./n", "Packages hello", "CMD [\"hello\"]"),
			want:    []want{{2, "Keyword 'Packages' should be upper case like the other keywords: PACKAGES"}},
		},
		{
			name:    "lower case among upper case",
			nixfile: nf("NIXPKGS ./n", "packages hello", "USER app"),
			want:    []want{{2, "Keyword 'packages' should be upper case like the other keywords: PACKAGES"}},
		},
		{
			name:    "upper case among lower case",
			nixfile: nf("nixpkgs ./n", "packages hello", "USER app", "Cmd [\"x\"]"),
			want: []want{
				{3, "Keyword 'USER' should be lower case like the other keywords: user"},
				{4, "Keyword 'Cmd' should be lower case like the other keywords: cmd"},
			},
		},
		{
			name:    "a tie goes to upper case",
			nixfile: nf("nixpkgs ./n", "PACKAGES hello"),
			want:    []want{{1, "Keyword 'nixpkgs' should be upper case like the other keywords: NIXPKGS"}},
		},
		{name: "all upper case", nixfile: nf("NIXPKGS ./n", "PACKAGES hello", "USER app")},
		{name: "all lower case", nixfile: nf("nixpkgs ./n", "packages hello", "user app")},
	})
}

func TestSecretsUsedInArgOrEnv(t *testing.T) {
	runRule(t, "SecretsUsedInArgOrEnv", []ruleTest{
		{
			name:    "ARG and ENV",
			nixfile: nf("ARG GITHUB_TOKEN", "ENV LANG=C DB_PASSWORD=x"),
			want: []want{
				{1, "ARG GITHUB_TOKEN looks like a secret: build arguments are recorded in the build's provenance; " +
					"give nix its credentials as build secrets (--secret, see --call outline) and the container its secrets when it runs"},
				{2, "ENV DB_PASSWORD looks like a secret: ENV is stored in the image config, readable by anyone who can pull the image; " +
					"give secrets to the container when it runs (docker run -e, a mounted file)"},
			},
		},
		{name: "allowed names", nixfile: nf("ARG PUBLIC_KEY", "ENV TOKEN_FILE=/run/secrets/t KEYBOARD=us MONKEY=1 AUTHOR=me")},
	})
}

// Every rule is documented under a heading of its name in docs/checks.md,
// and has a description.
func TestRulesDocumented(t *testing.T) {
	data, err := readDoc()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		if r.Description == "" || r.Check == nil {
			t.Errorf("%s: no description or check", r.Name)
		}
		if r.Doc != "docs/checks.md#"+strings.ToLower(r.Name) {
			t.Errorf("%s: doc %q", r.Name, r.Doc)
		}
		if !strings.Contains(data, fmt.Sprintf("\n## %s\n", r.Name)) {
			t.Errorf("docs/checks.md has no section ## %s", r.Name)
		}
	}
}

// Check orders warnings: the whole file's first, then by line.
func TestCheckOrderAndSkip(t *testing.T) {
	f, err := nixfile.Parse([]byte(nf("PACKAGES $X", "cmd a && b")))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range Check(f, Options{}) {
		got = append(got, fmt.Sprintf("%d %s", w.Line(), w.Rule))
	}
	wantAll := "0 RunsAsRoot|1 UnpinnedPackageSet|1 UndefinedVariable|2 ShellFormNeedsShell|2 KeywordCase"
	if s := strings.Join(got, "|"); s != wantAll {
		t.Errorf("warnings %s, want %s", s, wantAll)
	}
	got = nil
	for _, w := range Check(f, Options{Skip: []string{"RunsAsRoot", " KeywordCase"}}) {
		got = append(got, w.Rule)
	}
	if s := strings.Join(got, "|"); s != "UnpinnedPackageSet|UndefinedVariable|ShellFormNeedsShell" {
		t.Errorf("with skip: %s", s)
	}
	if w := Check(f, Options{SkipAll: true}); len(w) != 0 {
		t.Errorf("SkipAll: %v", w)
	}
}
