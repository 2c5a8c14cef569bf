#!/usr/bin/env bash
# Runs the sidecar benchmark (bench/, issue 9) with its Milvus rows: starts
# a standalone Milvus on a free loopback port (scripts/milvus.sh, as the
# tests do), runs go run ./bench -milvus against it with the arguments
# given, and stops Milvus and removes its data on exit. For example:
#
#	scripts/bench.sh -out BENCHMARKS.md -plot bench/latency.png
#
# Without Milvus, run go run ./bench directly. Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv-milvus/bin/milvus-server ]; then
	echo "installing the Milvus server (.venv-milvus)"
	python3 -m venv .venv-milvus
	.venv-milvus/bin/pip install --quiet --disable-pip-version-check -r testdata/milvus/requirements.txt
fi

source scripts/milvus.sh
trap stop_milvus EXIT
# Milvus gets a core of its own where the machine has more than one; the
# benchmark (its load, the fake upstream, the sidecars) runs on the others,
# so that what Milvus costs and what the sidecar costs do not mix.
pin=()
if (($(nproc) >= 2)); then
	export MEMPROXY_MILVUS_CPUS=$(($(nproc) - 1))
	pin=(taskset -c "0-$(($(nproc) - 2))")
fi
start_milvus_standalone
"${pin[@]}" go run ./bench -milvus "$MEMPROXY_TEST_MILVUS_STANDALONE" -command "scripts/bench.sh $*" "$@"
