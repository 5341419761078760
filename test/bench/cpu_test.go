package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flotilla-gitops/flotilla/internal/testenv"
)

// userHZ is the unit of the CPU times in /proc (USER_HZ, 100 on Linux).
const userHZ = 100

// cpuTimes are CPU times by consumer: this process (the controller, the
// Git server and the benchmark's own watch), the hub's and the members'
// kube-apiserver and etcd, and the whole machine (busy time of all cores).
// Read from /proc; empty where /proc is not available.
type cpuTimes map[string]time.Duration

// Consumers of cpuTimes, in the order they are printed.
const (
	cpuProcess       = "this process"
	cpuHubAPIServer  = "hub kube-apiserver"
	cpuHubEtcd       = "hub etcd"
	cpuMemberServers = "member kube-apiservers"
	cpuMemberEtcds   = "member etcds"
	cpuMachine       = "machine (all cores, all processes)"
)

// cpuAccount finds the control-plane processes of the environment once and
// reads their CPU times on demand.
type cpuAccount struct {
	pids map[int]string // pid -> consumer
}

// newCPUAccount finds the etcd and kube-apiserver processes of hub and
// members by the cluster folder on their command line.
func newCPUAccount(hub *testenv.Cluster, members []*testenv.Cluster) *cpuAccount {
	a := &cpuAccount{pids: map[int]string{}}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return a
	}
	for _, ent := range entries {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		args := bytes.Split(cmdline, []byte{0})
		bin := filepath.Base(string(args[0]))
		if bin != "etcd" && bin != "kube-apiserver" {
			continue
		}
		owner := ""
		switch {
		case bytes.Contains(cmdline, []byte(hub.Dir()+string(filepath.Separator))):
			owner = "hub"
		default:
			for _, m := range members {
				if bytes.Contains(cmdline, []byte(m.Dir()+string(filepath.Separator))) {
					owner = "member"
				}
			}
		}
		switch {
		case owner == "hub" && bin == "etcd":
			a.pids[pid] = cpuHubEtcd
		case owner == "hub":
			a.pids[pid] = cpuHubAPIServer
		case owner == "member" && bin == "etcd":
			a.pids[pid] = cpuMemberEtcds
		case owner == "member":
			a.pids[pid] = cpuMemberServers
		}
	}
	return a
}

// read returns the CPU times now.
func (a *cpuAccount) read() cpuTimes {
	out := cpuTimes{}
	if d, ok := procCPU("self"); ok {
		out[cpuProcess] = d
	}
	for pid, consumer := range a.pids {
		if d, ok := procCPU(strconv.Itoa(pid)); ok {
			out[consumer] += d
		}
	}
	if d, ok := machineBusy(); ok {
		out[cpuMachine] = d
	}
	return out
}

// procCPU reads utime+stime of /proc/<pid>/stat.
func procCPU(pid string) (time.Duration, bool) {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, false
	}
	// The command name is in parentheses and may hold spaces: skip it.
	rest := data[bytes.LastIndexByte(data, ')')+1:]
	fields := strings.Fields(string(rest))
	// After the name: state(0) ... utime(11) stime(12).
	if len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * time.Second / userHZ, true
}

// machineBusy reads the non-idle time of all cores from /proc/stat.
func machineBusy() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 6 || fields[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, f := range fields[1:] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, false
		}
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / userHZ, true
}

// ours is the CPU time of the benchmark's own processes: this process and
// the control planes, without the rest of the machine.
func (c cpuTimes) ours() time.Duration {
	var d time.Duration
	for k, v := range c {
		if k != cpuMachine {
			d += v
		}
	}
	return d
}

// sub returns c minus before.
func (c cpuTimes) sub(before cpuTimes) cpuTimes {
	out := cpuTimes{}
	for k, v := range c {
		out[k] = v - before[k]
	}
	return out
}

// String lists the CPU seconds by consumer.
func (c cpuTimes) String() string {
	order := map[string]int{cpuProcess: 0, cpuHubAPIServer: 1, cpuHubEtcd: 2, cpuMemberServers: 3, cpuMemberEtcds: 4, cpuMachine: 5}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return order[keys[i]] < order[keys[j]] })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.1fs", k, c[k].Seconds()))
	}
	if len(parts) == 0 {
		return "not available"
	}
	return strings.Join(parts, ", ")
}

// loadAverage returns the 1, 5 and 15 minute load averages of the machine,
// which tell whether other work competed with the benchmark.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
