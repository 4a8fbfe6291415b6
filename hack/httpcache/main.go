// Command httpcache serves the test bed's binary caches and tarballs on
// loopback, and logs every request as one line: method, path, status, bytes.
// Tests read that log to see what nix fetched.
//
//	go run ./hack/httpcache -addr 127.0.0.1:5080 -root DIR -log FILE [-auth PREFIX=USER:PASSWORD]
//
// A path /s/TOKEN/REST is served as /REST and logged as asked: a test names
// its own token in the URLs it gives nix, so that it can pick its requests
// out of a log other builds write to as well. Paths under an -auth prefix
// demand HTTP basic auth (a private cache, reached with a netrc).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:5080", "address to listen on; must be a loopback address")
	root := flag.String("root", ".", "directory to serve")
	logPath := flag.String("log", "", "request log file (appended to); empty is stderr")
	auth := flag.String("auth", "", "PREFIX=USER:PASSWORD: paths under PREFIX demand basic auth")
	flag.Parse()

	host, _, err := net.SplitHostPort(*addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		log.Fatalf("httpcache: -addr %q: give a loopback address (127.0.0.1:PORT)", *addr)
	}
	out := os.Stderr
	if *logPath != "" {
		if out, err = os.OpenFile(*logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644); err != nil {
			log.Fatalf("httpcache: %v", err)
		}
	}
	h := &handler{files: http.FileServer(http.Dir(*root)), root: *root, log: out}
	if *auth != "" {
		prefix, cred, ok := strings.Cut(*auth, "=")
		user, pass, ok2 := strings.Cut(cred, ":")
		if !ok || !ok2 || !strings.HasPrefix(prefix, "/") {
			log.Fatalf("httpcache: -auth %q: want /PREFIX=USER:PASSWORD", *auth)
		}
		h.authPrefix, h.user, h.pass = strings.TrimSuffix(prefix, "/")+"/", user, pass
	}
	log.Fatal(http.ListenAndServe(*addr, h))
}

type handler struct {
	files      http.Handler
	root       string
	authPrefix string
	user, pass string
	mu         sync.Mutex
	log        *os.File
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}
	logged := r.URL.Path
	if rest, ok := strings.CutPrefix(r.URL.Path, "/s/"); ok {
		if _, p, ok := strings.Cut(rest, "/"); ok {
			r.URL.Path = "/" + p
		}
	}
	// Clean before the auth check: the file server cleans too, so
	// /public/../private/x would otherwise reach a private file unasked.
	r.URL.Path = path.Clean("/" + r.URL.Path)
	switch {
	case h.authPrefix != "" && strings.HasPrefix(r.URL.Path, h.authPrefix) && !h.authorized(r):
		rec.Header().Set("WWW-Authenticate", `Basic realm="private cache"`)
		http.Error(rec, "unauthorized", http.StatusUnauthorized)
	default:
		// An ETag, so that nix revalidates a tarball it has (If-None-Match)
		// rather than download it again once its tarball-ttl is over.
		if fi, err := os.Stat(filepath.Join(h.root, filepath.FromSlash(r.URL.Path))); err == nil && !fi.IsDir() {
			sum := sha256.Sum256(fmt.Appendf(nil, "%s %d %d", r.URL.Path, fi.Size(), fi.ModTime().UnixNano()))
			rec.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
		}
		h.files.ServeHTTP(rec, r)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(h.log, "%s %s %d %d\n", r.Method, logged, rec.status, rec.bytes)
}

func (h *handler) authorized(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	return ok && u == h.user && p == h.pass
}

// recorder keeps the status and the body's size for the log.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}
