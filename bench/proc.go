package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/memproxy/memproxy/bench/internal/storeload"
)

// A process is a child the benchmark started: the sidecar or the fake
// upstream, each its own program with its own Go runtime, so that its CPU
// and memory can be read from /proc and nothing it does shares a
// scheduler with the load generator.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// start runs cmd with its stdout and stderr in logPath.
func start(name string, cmd *exec.Cmd, logPath string) (*process, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	if cmd.Stdout == nil {
		cmd.Stdout = f
	}
	cmd.Stderr = f
	// Its own process group: a Ctrl-C to the benchmark reaches the
	// benchmark, which stops its children in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// stop asks the process to stop (SIGTERM) and kills it if it has not
// within grace.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// tail returns the last lines of the process's log, for error messages.
func (p *process) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// upstream is the fake OpenAI server, run as "bench upstream".
type upstream struct {
	*process
	url string // http://127.0.0.1:port
}

func startUpstream(dir string, o upstreamOptions) (*upstream, error) {
	return startSelf(dir, "upstream", o.args()...)
}

// startSelf runs the benchmark's subcommand sub as a process of its own
// and reads the address it serves on from its first line of output.
func startSelf(dir, sub string, args ...string) (*upstream, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{sub}, args...)...)
	cmd.Env = minimalEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p, err := start(sub, cmd, filepath.Join(dir, sub+".log"))
	if err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		p.stop(time.Second)
		return nil, fmt.Errorf("%s did not start: %v\n%s", sub, err, p.tail())
	}
	addr := strings.TrimSpace(line)
	if err := storeload.CheckLoopback(addr); err != nil {
		p.stop(time.Second)
		return nil, err
	}
	go io.Copy(io.Discard, out)
	return &upstream{process: p, url: "http://" + addr}, nil
}

// sidecar is a running memproxy binary.
type sidecar struct {
	*process
	url     string // http://127.0.0.1:port
	dataDir string
	pprof   string // http://127.0.0.1:port of a -tags pprof build, or ""
}

// minimalEnv is the environment children get: none of the caller's
// MEMPROXY_ settings or proxies, so that nothing but what the benchmark
// sets decides where they connect.
func minimalEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LANG=C"}
}

// startSidecar runs the memproxy binary bin with the given settings on
// top of the benchmark's: loopback on a free port, the memory API open
// with key benchKey, forwarding to up, logs (the default: text, info) to
// a file.
func startSidecar(bin, dir, name string, up *upstream, settings map[string]string, profile bool) (*sidecar, error) {
	dataDir := filepath.Join(dir, name+"-data")
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"MEMPROXY_LISTEN":                 addr,
		"MEMPROXY_API_KEYS":               benchKey,
		"MEMPROXY_UPSTREAM_URL":           up.url + "/v1",
		"MEMPROXY_DATA_DIR":               dataDir,
		"MEMPROXY_LEARN_DRAIN_TIMEOUT":    "2s",
		"MEMPROXY_MILVUS_COLLECTION":      "memproxy_bench_unused",
		"MEMPROXY_EMBEDDING_URL":          up.url + "/v1",
		"MEMPROXY_MILVUS_ADDRESS":         "127.0.0.1:1",
		"MEMPROXY_MILVUS_CONNECT_TIMEOUT": "30s",
	}
	for k, v := range settings {
		env[k] = v
	}
	pprofURL := ""
	if profile {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		env["MEMPROXY_PPROF_LISTEN"] = port
		pprofURL = "http://" + port
	}
	for _, k := range []string{"MEMPROXY_UPSTREAM_URL", "MEMPROXY_EMBEDDING_URL", "MEMPROXY_MILVUS_ADDRESS", "MEMPROXY_EXTRACTION_URL"} {
		if v, ok := env[k]; ok {
			if err := storeload.CheckLoopback(v); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	cmd := exec.Command(bin)
	cmd.Env = minimalEnv()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p, err := start(name, cmd, filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	s := &sidecar{process: p, url: "http://" + addr, dataDir: dataDir, pprof: pprofURL}
	if err := s.waitReady(5 * time.Minute); err != nil {
		p.stop(5 * time.Second)
		return nil, err
	}
	return s, nil
}

// freePort returns a loopback address with a port free a moment ago.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// profile records a CPU profile of the sidecar for d into path, in the
// background; the returned function waits for it.
func (s *sidecar) profile(path string, d time.Duration) func() {
	if s.pprof == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", s.pprof, max(1, int(d.Seconds()))))
		if err != nil {
			log.Printf("profiling %s: %v", s.name, err)
			return
		}
		defer res.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			log.Print(err)
			return
		}
		io.Copy(f, res.Body)
		f.Close()
		log.Printf("wrote %s", path)
		// What the sidecar has allocated since it started, by call site.
		res2, err := http.Get(s.pprof + "/debug/pprof/allocs")
		if err != nil {
			return
		}
		defer res2.Body.Close()
		apath := strings.TrimSuffix(path, ".pprof") + ".allocs.pprof"
		if f, err := os.Create(apath); err == nil {
			io.Copy(f, res2.Body)
			f.Close()
		}
	}()
	return func() { <-done }
}

// waitReady waits for /readyz: the sidecar listens and its store serves.
func (s *sidecar) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if s.exited() {
			return fmt.Errorf("%s exited at start:\n%s", s.name, s.tail())
		}
		res, err := http.Get(s.url + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready within %v (%v):\n%s", s.name, limit, err, s.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metrics scrapes the sidecar's /metrics and returns the samples whose
// names start with one of prefixes, keyed by name and labels as written.
func (s *sidecar) metrics(prefixes ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/metrics", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(name, p) {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					out[name] = f
				}
			}
		}
	}
	return out, sc.Err()
}

// procTicks returns a process's CPU time (user + system) in clock ticks.
func procTicks(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may hold spaces: the fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("malformed stat")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64) // field 14, utime
	s, err2 := strconv.ParseUint(f[12], 10, 64) // field 15, stime
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return u + s, nil
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux.
const clockTicks = 100

// procRSS returns a process's resident set size in bytes.
func procRSS(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

// machineTicks returns the machine's busy and total CPU ticks.
func machineTicks() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i >= 8 { // guest time is counted in user already
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// A meter measures a window: the CPU the given processes used, the peak
// RSS of each (sampled every 50 ms), and how busy the machine was.
type meter struct {
	pids        []int
	t0          time.Time
	ticks0      []uint64
	busy0, tot0 uint64
	peak        []uint64
	stop, done  chan struct{}
}

// usage is what a meter measured.
type usage struct {
	cpu     []float64 // % of one core, per process
	rss     []float64 // peak MiB, per process
	machine float64   // % of all cores busy
}

func startMeter(pids ...int) *meter {
	m := &meter{pids: pids, t0: time.Now(), ticks0: make([]uint64, len(pids)), peak: make([]uint64, len(pids)),
		stop: make(chan struct{}), done: make(chan struct{})}
	for i, p := range pids {
		m.ticks0[i], _ = procTicks(p)
	}
	m.busy0, m.tot0 = machineTicks()
	go func() {
		defer close(m.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			for i, p := range m.pids {
				if r, err := procRSS(p); err == nil && r > m.peak[i] {
					m.peak[i] = r
				}
			}
			select {
			case <-m.stop:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *meter) end() usage {
	close(m.stop)
	<-m.done
	secs := time.Since(m.t0).Seconds()
	u := usage{cpu: make([]float64, len(m.pids)), rss: make([]float64, len(m.pids))}
	for i, p := range m.pids {
		t, _ := procTicks(p)
		u.cpu[i] = float64(t-m.ticks0[i]) / clockTicks / secs * 100
		u.rss[i] = float64(m.peak[i]) / (1 << 20)
	}
	busy, tot := machineTicks()
	if tot > m.tot0 {
		u.machine = float64(busy-m.busy0) / float64(tot-m.tot0) * 100
	}
	return u
}
