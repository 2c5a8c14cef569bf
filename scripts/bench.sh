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
# Milvus gets cores of its own where the machine has four or more (the
# upper half); the benchmark (its load, the fake upstream, the sidecars)
# runs on the others, so that what Milvus costs and what the sidecar costs
# do not mix. On two cores Milvus (its coordinators, query node and etcd)
# starves on one: 33 ms for one search at 30 searches/s, against 7 ms
# unpinned (BENCHMARKS.md section 8), so nothing is pinned there. Milvus'
# default 200 ms time tick: nothing here reads fresh, and the tests' 20 ms
# tick costs Milvus the CPU its searches need.
export MEMPROXY_MILVUS_TIME_TICK=200
pin=()
cpus=$(nproc)
if ((cpus >= 4)); then
	export MEMPROXY_MILVUS_CPUS=$((cpus / 2))-$((cpus - 1))
	pin=(taskset -c "0-$((cpus / 2 - 1))")
fi
start_milvus_standalone
"${pin[@]}" go run ./bench -milvus "$MEMPROXY_TEST_MILVUS_STANDALONE" -command "scripts/bench.sh $*" "$@"
