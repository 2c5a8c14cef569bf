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
start_milvus_standalone
go run ./bench -milvus "$MEMPROXY_TEST_MILVUS_STANDALONE" -command "scripts/bench.sh $*" "$@"
