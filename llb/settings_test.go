package nixllb

import (
	"strings"
	"testing"
)

func TestCheckNixSetting(t *testing.T) {
	tests := []struct {
		name    string
		setting NixSetting
		wantErr string // "" accepts
	}{
		{name: "a substituter", setting: NixSetting{"extra-substituters", "https://cache.example.com"}},
		{name: "its key", setting: NixSetting{"extra-trusted-public-keys", "cache.example.com-1:AAAA="}},
		{name: "an empty list", setting: NixSetting{"substituters", ""}},
		{name: "a ttl", setting: NixSetting{"narinfo-cache-negative-ttl", "0"}},
		{name: "sandbox", setting: NixSetting{"sandbox", "false"}, wantErr: "sandbox is refused: it changes how builds are isolated"},
		{name: "require-sigs", setting: NixSetting{"require-sigs", "false"}, wantErr: "turns off signature checks"},
		{name: "builders", setting: NixSetting{"builders", "ssh://x"}, wantErr: "to other machines"},
		{name: "allowed-uris", setting: NixSetting{"allowed-uris", "https://"}, wantErr: "what evaluation may fetch"},
		{name: "a credential", setting: NixSetting{"access-tokens", "github.com=x"}, wantErr: "--secret id=nix-access-tokens"},
		{name: "include", setting: NixSetting{"!include", "/etc/x"}, wantErr: "reads a file"},
		{name: "unknown", setting: NixSetting{"frobnicate", "1"}, wantErr: "allowed are connect-timeout, cores,"},
		{name: "not a name", setting: NixSetting{"Extra Substituters", "x"}, wantErr: "not a nix setting name"},
		{name: "a line break", setting: NixSetting{"fallback", "true\nsandbox = false"}, wantErr: "line break"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckNixSetting(tc.setting)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want one with %q", err, tc.wantErr)
			}
		})
	}
}

func TestParseNixSettings(t *testing.T) {
	got, err := ParseNixSettings("# c\n extra-substituters =  a b \n\nfallback=true\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != (NixSetting{"extra-substituters", "a b"}) || got[1] != (NixSetting{"fallback", "true"}) {
		t.Errorf("got %q", got)
	}
	if _, err := ParseNixSettings("fallback"); err == nil || !strings.Contains(err.Error(), "give name = value") {
		t.Errorf("a line without = : err = %v", err)
	}
}
