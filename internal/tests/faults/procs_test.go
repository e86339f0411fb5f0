package faults

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binaries are the product's mains, built once for the package.
var binaries struct{ starter, worker string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binaries.starter, binaries.worker = filepath.Join(dir, "starter"), filepath.Join(dir, "worker")
	for name, out := range map[string]string{"./starter": binaries.starter, "./worker": binaries.worker} {
		args := []string{"build", "-o", out}
		if raceBuild {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, name)...)
		cmd.Dir = filepath.Join("..", "..", "..")
		if b, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", name, err, b)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one process of the product, restartable with the same
// environment (ports, data directory) after a kill.
type proc struct {
	t    *testing.T
	name string
	bin  string
	env  []string
	log  string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

func newProc(t *testing.T, dir, name, bin string, env ...string) *proc {
	p := &proc{t: t, name: name, bin: bin, env: append(os.Environ(), env...), log: filepath.Join(dir, name+".log")}
	t.Cleanup(p.stop)
	return p
}

func (p *proc) start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	log, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(p.bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = p.env, log, log
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done = cmd, done
	go func() { _ = cmd.Wait(); _ = log.Close(); close(done) }()
}

// kill sends SIGKILL: no shutdown, no flush, as a crash or an OOM kill.
func (p *proc) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// exited reports whether the process was started and has exited.
func (p *proc) exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process to shut down, and kills it if it does not.
func (p *proc) stop() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(15 * time.Second):
	}
	p.kill()
}

// freePort is a port free now; a process started soon after binds it.
func freePort(t *testing.T, pair bool) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		if !pair {
			return port
		}
		if l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10)); err == nil {
			_ = l2.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// healthy reports whether the API's /healthz answers 200 (database and
// Temporal up).
func healthy(base string) bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
