# Starts and stops the Milvus-protocol servers the tests run against.
# Sourced by scripts/test.sh after it installed testdata/milvus/requirements.txt
# into .venv-milvus. Each server runs in a process group of its own, under a
# temporary directory, on a free loopback port.

milvus_dir=$(mktemp -d "${TMPDIR:-/tmp}/memproxy-milvus.XXXXXX")
milvus_pgids=()

free_port() {
	.venv-milvus/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for LOG PGID SECONDS CHECK...: runs CHECK until it succeeds, the
# server's process group is gone, or SECONDS pass.
wait_for() {
	local log=$1 pgid=$2 secs=$3
	shift 3
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ! kill -0 -- "-$pgid" 2>/dev/null; then
			echo "the server exited; its log:" >&2
			tail -n 40 "$log" >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			echo "the server was not ready in ${secs}s; its log:" >&2
			tail -n 40 "$log" >&2
			return 1
		fi
		sleep 0.2
	done
}

# start_milvus_lite: Milvus Lite on a free port; exports MEMPROXY_TEST_MILVUS_LITE.
start_milvus_lite() {
	local port log=$milvus_dir/lite.log
	port=$(free_port)
	setsid .venv-milvus/bin/milvus-lite server --data-dir "$milvus_dir/lite" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
	milvus_pgids+=($!)
	wait_for "$log" $! 60 bash -c "echo >/dev/tcp/127.0.0.1/$port"
	export MEMPROXY_TEST_MILVUS_LITE=127.0.0.1:$port
	echo "Milvus Lite $(.venv-milvus/bin/pip show milvus-lite | sed -n 's/^Version: //p') on $MEMPROXY_TEST_MILVUS_LITE"
}

# start_milvus_standalone: the standalone Milvus binary on a free port;
# exports MEMPROXY_TEST_MILVUS_STANDALONE. The launcher writes the
# configuration, unpacks the binary, picks free ports for etcd and the
# internal services, and says "Welcome to use Milvus!" once /healthz is OK.
# A time tick of 20 ms instead of 200 makes strong reads ~10x faster; a
# short graceful stop makes stopping quick (the data is thrown away).
start_milvus_standalone() {
	local port log=$milvus_dir/standalone.log
	port=$(free_port)
	setsid .venv-milvus/bin/milvus-server --data "$milvus_dir/standalone" --proxy-port "$port" \
		--extra-config proxy.timeTickInterval=20 --extra-config common.gracefulStopTimeout=3 >"$log" 2>&1 &
	milvus_pgids+=($!)
	wait_for "$log" $! 300 grep -q 'Welcome to use Milvus' "$log"
	export MEMPROXY_TEST_MILVUS_STANDALONE=127.0.0.1:$port
	echo "Milvus standalone $(.venv-milvus/bin/pip show milvus | sed -n 's/^Version: //p') on $MEMPROXY_TEST_MILVUS_STANDALONE"
}

# stop_milvus: stops every server started here and removes their data.
stop_milvus() {
	local pgid
	for pgid in "${milvus_pgids[@]}"; do
		kill -TERM -- "-$pgid" 2>/dev/null || true
	done
	for pgid in "${milvus_pgids[@]}"; do
		for _ in $(seq 1 25); do
			kill -0 -- "-$pgid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL -- "-$pgid" 2>/dev/null || true
	done
	milvus_pgids=()
	rm -rf "$milvus_dir"
}
