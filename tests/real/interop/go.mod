module kapokmq-interop

go 1.21

// realmq.sh builds a copy of this folder with a replace directive that
// points the client at its source tree (KAPOKMQ_GO_CLIENT_SRC).
