# Starts and stops the Milvus-protocol servers the tests run against.
# Sourced by scripts/test.sh after it installed testdata/milvus/requirements.txt
# into .venv-milvus. Each server runs in a process group of its own, under a
# temporary directory, on free loopback ports only, so that it starts beside
# any other Milvus on the machine. A server that fails to start leaves its
# logs behind, and says where.

milvus_dir=$(mktemp -d "${TMPDIR:-/tmp}/memproxy-milvus.XXXXXX")
milvus_pgids=()
milvus_failed=

milvus_ports=" "

# free_port VAR sets VAR to a loopback port free a moment ago and not
# handed out here before (the kernel may offer a port again once its
# socket closed).
free_port() {
	local p
	while :; do
		p=$(.venv-milvus/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		[[ $milvus_ports == *" $p "* ]] || break
	done
	milvus_ports+="$p "
	printf -v "$1" %s "$p"
}

# milvus_logs NAME LOG...: prints the tail of each log of a server that did
# not start, and keeps them when the servers are stopped.
milvus_logs() {
	local name=$1 f
	shift
	milvus_failed=1
	for f in "$@"; do
		[ -s "$f" ] || continue
		echo "--- $f (last 20 lines)" >&2
		tail -n 20 "$f" | cut -c1-400 >&2
	done
	# Milvus logs its reason for giving up as an ERROR or FATAL line, often
	# long before the goroutine dump that ends its stderr.
	echo "--- the errors it logged:" >&2
	grep -h -m 5 -E '\[(ERROR|FATAL)\]|^panic: ' "$@" 2>/dev/null | cut -c1-400 >&2
	echo "$name did not start; its logs are kept in $milvus_dir" >&2
}

# wait_for NAME PGID SECONDS ALIVE CHECK...: runs CHECK until it succeeds,
# ALIVE fails (the server is gone), or SECONDS pass.
wait_for() {
	local name=$1 pgid=$2 secs=$3 alive=$4
	shift 4
	local deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ! $alive "$pgid"; then
			echo "$name exited before it was ready" >&2
			return 1
		fi
		if ((SECONDS >= deadline)); then
			echo "$name was not ready in ${secs}s" >&2
			return 1
		fi
		sleep 0.2
	done
}

group_alive() { kill -0 -- "-$1" 2>/dev/null; }

# start_milvus_lite: Milvus Lite on a free port; exports
# MEMPROXY_TEST_MILVUS_LITE. It listens on that one port and no other.
start_milvus_lite() {
	local port log=$milvus_dir/lite.log
	free_port port
	setsid .venv-milvus/bin/milvus-lite server --data-dir "$milvus_dir/lite" --host 127.0.0.1 --port "$port" >"$log" 2>&1 &
	milvus_pgids+=($!)
	if ! wait_for "Milvus Lite" $! 60 group_alive bash -c "echo >/dev/tcp/127.0.0.1/$port"; then
		milvus_logs "Milvus Lite" "$log"
		return 1
	fi
	export MEMPROXY_TEST_MILVUS_LITE=127.0.0.1:$port
	echo "Milvus Lite $(.venv-milvus/bin/pip show milvus-lite | sed -n 's/^Version: //p') on $MEMPROXY_TEST_MILVUS_LITE"
}

# The ports of the standalone server that the milvus-server launcher
# resolves: given a free port each, it takes that one; left alone, it takes
# the first free one from a fixed default (19530, 53100, ...), which two
# servers starting at once both take.
milvus_port_flags=(proxy-port proxy-internal-port etcd-port root-coord-port query-coord-port
	query-node-port index-coord-port index-node-port data-coord-port data-node-port)

# standalone_alive PGID: whether the launcher still runs and, once it has
# started the milvus binary, the binary too (the launcher outlives a binary
# that died, waiting minutes for it to become healthy).
standalone_alive() {
	group_alive "$1" || return 1
	local procs
	procs=$(ps -o stat=,comm= -g "$1" 2>/dev/null)
	if grep -q ' milvus$' <<<"$procs"; then
		grep -q '^[^Z][^ ]* *milvus$' <<<"$procs"
	fi
}

# start_milvus_standalone: the standalone Milvus binary on free ports;
# exports MEMPROXY_TEST_MILVUS_STANDALONE.
#
# Every port is a free one: the launcher's ports as flags; the embedded
# etcd's client and peer ports (fixed at 2379 and 2380 by etcd's defaults,
# whatever the launcher's etcd-port says, which only names the client
# endpoint) through an etcd configuration file named by ETCD_CONFIG_PATH,
# which Milvus reads as etcd.config.path; and the HTTP port of /healthz and
# /metrics (a walk from 9091 in the launcher) set on the launcher's server
# object before it starts.
#
# A time tick of 20 ms instead of 200 makes strong reads ~10x faster; a
# short graceful stop makes stopping quick (the data is thrown away).
# MEMPROXY_MILVUS_TIME_TICK (ms) overrides the 20 ms tick, as the benchmark
# does: Milvus' default of 200 costs less CPU when nothing reads fresh.
# MEMPROXY_MILVUS_CPUS, when set, pins the server (launcher, etcd and the
# milvus binary, which inherit it) to those CPUs with taskset, as the
# benchmark does to keep Milvus off the cores of what it measures.
start_milvus_standalone() {
	local dir=$milvus_dir/standalone log=$milvus_dir/standalone.log
	local flags=() flag port proxy http etcd_client etcd_peer
	for flag in "${milvus_port_flags[@]}"; do
		free_port port
		flags+=("--$flag" "$port")
		case $flag in
		proxy-port) proxy=$port ;;
		etcd-port) etcd_client=$port ;;
		esac
	done
	free_port etcd_peer
	free_port http
	mkdir -p "$dir"
	cat >"$milvus_dir/etcd.yaml" <<-EOF
		name: default
		listen-client-urls: http://127.0.0.1:$etcd_client
		advertise-client-urls: http://127.0.0.1:$etcd_client
		listen-peer-urls: http://127.0.0.1:$etcd_peer
		initial-advertise-peer-urls: http://127.0.0.1:$etcd_peer
		initial-cluster: default=http://127.0.0.1:$etcd_peer
	EOF
	local pin=()
	if [ -n "${MEMPROXY_MILVUS_CPUS:-}" ]; then
		pin=(taskset -c "$MEMPROXY_MILVUS_CPUS")
	fi
	ETCD_CONFIG_PATH=$milvus_dir/etcd.yaml setsid "${pin[@]}" .venv-milvus/bin/python -c '
import sys
import milvus
milvus.default_server.webservice_port = int(sys.argv.pop(1))
sys.argv[0] = "milvus-server"
milvus.main()
' "$http" --data "$dir" "${flags[@]}" \
		--extra-config proxy.timeTickInterval="${MEMPROXY_MILVUS_TIME_TICK:-20}" --extra-config common.gracefulStopTimeout=3 >"$log" 2>&1 &
	milvus_pgids+=($!)
	# Ready once the launcher says so and the proxy listens on the port
	# given (the launcher would take the next one if that was taken since).
	if ! wait_for "Milvus standalone" $! 300 standalone_alive bash -c "grep -q 'Welcome to use Milvus' '$log' && echo >/dev/tcp/127.0.0.1/$proxy"; then
		milvus_logs "Milvus standalone" "$log" "$dir/logs/milvus-stdout.log" "$dir/logs/milvus-stderr.log" "$dir/logs/etcd.log"
		return 1
	fi
	export MEMPROXY_TEST_MILVUS_STANDALONE=127.0.0.1:$proxy
	echo "Milvus standalone $(.venv-milvus/bin/pip show milvus | sed -n 's/^Version: //p') on $MEMPROXY_TEST_MILVUS_STANDALONE (etcd on $etcd_client and $etcd_peer, HTTP on $http)"
}

# stop_milvus: stops every server started here and removes their data;
# after a server failed to start, it keeps their logs (and only those).
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
	if [ -n "$milvus_failed" ]; then
		find "$milvus_dir" -type f ! -name '*.log' ! -name '*.yaml' -delete 2>/dev/null
		echo "the Milvus servers' logs are in $milvus_dir" >&2
		return
	fi
	rm -rf "$milvus_dir"
}
