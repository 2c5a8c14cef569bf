// Package e2e tests the assembled memproxy end to end: the sidecar as the
// binary runs it, driven by the official SDKs, against the embedded store
// and real Milvus servers, under faults, load and kill -9. It has no code
// of its own besides the tests; see harness_test.go for what they share.
package e2e
