package storetest

import (
	"os"
	"testing"
)

// MilvusServers returns the Milvus-protocol servers scripts/test.sh
// started, by name ("lite", "standalone"). Without them the test skips,
// unless MEMPROXY_REQUIRE_SDKS is set (as scripts/test.sh does), which
// makes a missing server a failure.
func MilvusServers(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, env := range map[string]string{"lite": "MEMPROXY_TEST_MILVUS_LITE", "standalone": "MEMPROXY_TEST_MILVUS_STANDALONE"} {
		if addr := os.Getenv(env); addr != "" {
			out[name] = addr
		} else if os.Getenv("MEMPROXY_REQUIRE_SDKS") != "" {
			t.Errorf("%s is not set; scripts/test.sh starts the Milvus servers", env)
		}
	}
	if len(out) == 0 {
		t.Skip("no Milvus server (MEMPROXY_TEST_MILVUS_LITE, MEMPROXY_TEST_MILVUS_STANDALONE); run scripts/test.sh")
	}
	return out
}
