package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// readPushed finds the image of a pushed index (not its attestation) and
// its layers, as the registry serves them.
func TestReadPushed(t *testing.T) {
	manifest, _ := json.Marshal(ocispecs.Manifest{
		MediaType: ocispecs.MediaTypeImageManifest,
		Config:    desc("config", 5),
		Layers:    []ocispecs.Descriptor{desc("a", 100), desc("b", 200)},
	})
	attestation, _ := json.Marshal(ocispecs.Manifest{MediaType: ocispecs.MediaTypeImageManifest, Config: desc("att", 1)})
	md, ad := digest.FromBytes(manifest), digest.FromBytes(attestation)
	index, _ := json.Marshal(ocispecs.Index{MediaType: ocispecs.MediaTypeImageIndex, Manifests: []ocispecs.Descriptor{
		{MediaType: ocispecs.MediaTypeImageManifest, Digest: md, Size: int64(len(manifest))},
		{MediaType: ocispecs.MediaTypeImageManifest, Digest: ad, Size: int64(len(attestation)),
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest"}},
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/bench/img/manifests/plus1":
			w.Header().Set("Content-Type", ocispecs.MediaTypeImageIndex)
			_, _ = w.Write(index)
		case "/v2/bench/img/manifests/" + md.String():
			w.Header().Set("Content-Type", ocispecs.MediaTypeImageManifest)
			_, _ = w.Write(manifest)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	got, err := readPushed(context.Background(), host+"/bench/img:plus1")
	if err != nil {
		t.Fatal(err)
	}
	if got.manifest.Digest != md || got.manifest.Size != int64(len(manifest)) {
		t.Errorf("manifest %s (%d bytes), want %s (%d)", got.manifest.Digest, got.manifest.Size, md, len(manifest))
	}
	if len(got.layers) != 2 || got.layers[1].Size != 200 || got.config.Size != 5 {
		t.Errorf("layers %v, config %v: want the image's two layers and config", got.layers, got.config)
	}
	if _, err := readPushed(context.Background(), host+"/bench/img:missing"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a missing tag: err %v, want a 404", err)
	}
	if _, err := readPushed(context.Background(), host+"/bench/img"); err == nil {
		t.Errorf("a reference without a tag: want an error")
	}
}
