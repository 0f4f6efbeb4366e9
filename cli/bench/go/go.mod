module kapokmq-bench/go

go 1.21

// No version is pinned: run.sh builds a copy of this folder with
// GOFLAGS=-mod=mod, which resolves "latest" to the newest published
// version at build time (and records it in that copy's go.mod).
require github.com/dpwgc/kapokmq-go-client latest
