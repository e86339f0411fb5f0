package load

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// PIDListening finds the local process listening on a TCP port (from
// /proc: the socket's inode, then the process holding it), or 0.
func PIDListening(port int) int {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		file, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(file)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			local := fields[1]
			i := strings.LastIndexByte(local, ':')
			p, err := strconv.ParseInt(local[i+1:], 16, 32)
			if err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		file.Close()
	}
	if len(inodes) == 0 {
		return 0
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range procs {
		if target, err := os.Readlink(fd); err == nil && inodes[target] {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			return pid
		}
	}
	return 0
}

// Memory reads a process's resident set and its peak (VmRSS, VmHWM) in bytes.
func Memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	return rss, peak, nil
}

// RSSSampler records the largest resident set it sees while it runs.
type RSSSampler struct {
	pid  int
	stop chan struct{}
	done sync.WaitGroup
	max  int64
}

// SampleRSS samples pid's resident set every interval until Stop.
func SampleRSS(pid int, every time.Duration) *RSSSampler {
	s := &RSSSampler{pid: pid, stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if rss, _, err := Memory(pid); err == nil && rss > s.max {
				s.max = rss
			}
			select {
			case <-t.C:
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

// Stop ends the sampling and returns the largest resident set seen.
func (s *RSSSampler) Stop() int64 {
	close(s.stop)
	s.done.Wait()
	return s.max
}

// userHz is the kernel's clock tick for /proc/<pid>/stat times; Linux
// reports them in USER_HZ, which is 100 on every architecture it runs.
const userHz = 100

// CPU reads the processor time a process has used, user and system
// together (/proc/<pid>/stat, fields 14 and 15).
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad times %q %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / userHz, nil
}

// CPUOf sums the processor time of pids; a process that cannot be read
// (gone, another user's) counts nothing.
func CPUOf(pids []int) time.Duration {
	var total time.Duration
	for _, pid := range pids {
		if d, err := CPU(pid); err == nil {
			total += d
		}
	}
	return total
}

// MachineTime is the processor time of the whole machine, all cores, as
// /proc/stat counts it since boot.
type MachineTime struct {
	// Total is every state's time: busy, idle, waiting and stolen.
	Total time.Duration
	// Stolen is the time a virtual machine's cores were ready to run but
	// the host ran something else: a run that lost more of it had less
	// machine, and its rate is not comparable with another's.
	Stolen time.Duration
}

// StolenShare is the part of the time between m and later that the host
// stole, from 0 to 1.
func (m MachineTime) StolenShare(later MachineTime) float64 {
	total := later.Total - m.Total
	if total <= 0 {
		return 0
	}
	return float64(later.Stolen-m.Stolen) / float64(total)
}

// ReadMachineTime reads /proc/stat's first line ("cpu user nice system
// idle iowait irq softirq steal guest guest_nice", in USER_HZ).
func ReadMachineTime() (MachineTime, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineTime{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseMachineTime(line)
}

func parseMachineTime(line string) (MachineTime, error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return MachineTime{}, fmt.Errorf("/proc/stat: want the cpu line with a steal field, got %q", line)
	}
	var m MachineTime
	// guest and guest_nice (fields 9 and 10) are already in user and nice.
	for i, field := range f[1:9] {
		ticks, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return MachineTime{}, fmt.Errorf("/proc/stat: field %d %q", i+1, field)
		}
		d := time.Duration(ticks) * time.Second / userHz
		m.Total += d
		if i == 7 {
			m.Stolen = d
		}
	}
	return m, nil
}
