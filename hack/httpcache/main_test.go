package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// serve runs one request through a handler over a root holding a public and
// a private file, and returns the response and the log line it wrote.
func serve(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	root := t.TempDir()
	for name, body := range map[string]string{"nix-cache-info": "StoreDir: /nix/store\n", "private/x.narinfo": "secret\n"} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logFile, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	h := &handler{files: http.FileServer(http.Dir(root)), root: root, log: logFile,
		authPrefix: "/private/", user: "u", pass: "p"}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	logged, err := os.ReadFile(logFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	return rec.Result(), string(logged)
}

func TestServesAndLogs(t *testing.T) {
	resp, logged := serve(t, httptest.NewRequest("GET", "/nix-cache-info", nil))
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == "" {
		t.Fatalf("status %d, ETag %q; want 200 with an ETag", resp.StatusCode, resp.Header.Get("ETag"))
	}
	if want := "GET /nix-cache-info 200 21\n"; logged != want {
		t.Errorf("log %q, want %q", logged, want)
	}
}

func TestTokenPathIsServedAndLoggedAsAsked(t *testing.T) {
	resp, logged := serve(t, httptest.NewRequest("GET", "/s/tok-1/nix-cache-info", nil))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if !strings.HasPrefix(logged, "GET /s/tok-1/nix-cache-info 200 ") {
		t.Errorf("log %q does not name the token path", logged)
	}
}

func TestPrivatePrefixDemandsBasicAuth(t *testing.T) {
	for _, tc := range []struct {
		path       string
		user, pass string
		want       int
	}{
		{"/private/x.narinfo", "", "", http.StatusUnauthorized},
		{"/private/x.narinfo", "u", "wrong", http.StatusUnauthorized},
		{"/private/x.narinfo", "u", "p", http.StatusOK},
		{"/s/tok/private/x.narinfo", "", "", http.StatusUnauthorized},
		{"/nix-cache-info/../private/x.narinfo", "", "", http.StatusUnauthorized},
		{"//private/x.narinfo", "", "", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.URL.Path = tc.path
		if tc.user != "" {
			req.SetBasicAuth(tc.user, tc.pass)
		}
		if resp, _ := serve(t, req); resp.StatusCode != tc.want {
			t.Errorf("%s as %q: status %d, want %d", tc.path, tc.user, resp.StatusCode, tc.want)
		}
	}
}
