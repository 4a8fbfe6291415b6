package main

import (
	"maps"
	"testing"
)

func TestFrontendOpts(t *testing.T) {
	got := frontendOpts([]string{
		"PATH=/bin",
		"BUILDKIT_FRONTEND_OPT_0=filename=Nixfile",
		"BUILDKIT_FRONTEND_OPT_1=build-arg:GREETING=a=b",
		"BUILDKIT_FRONTEND_OPT_2=no-cache",
		"BUILDKIT_FRONTEND_OPT_3=build-arg:EMPTY=",
		"BUILDKIT_SESSION_ID=abc",
	})
	want := map[string]string{"filename": "Nixfile", "build-arg:GREETING": "a=b", "no-cache": "", "build-arg:EMPTY": ""}
	if !maps.Equal(got, want) {
		t.Errorf("frontendOpts = %q, want %q", got, want)
	}
}
