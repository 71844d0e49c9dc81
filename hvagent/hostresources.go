package hvagent

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// fallbackMemoryMB bounds a guest's memory when the host's cannot be read
// (no /proc/meminfo): 16 TiB.
const fallbackMemoryMB = 16 << 20

// HostResources is what the host can give one guest: a create asking for
// more CPUs or memory is refused.
type HostResources struct {
	// CPUs is the number of logical CPUs; 0 = detected (runtime.NumCPU:
	// the CPUs this process, and so the QEMU it starts, may run on).
	CPUs int
	// MemoryMB is the host's memory in MB; 0 = detected (MemTotal of
	// /proc/meminfo, or 16 TiB where that cannot be read).
	MemoryMB uint64
}

// withDetected returns h with its zero fields detected on this host.
func (h HostResources) withDetected() HostResources {
	if h.CPUs <= 0 {
		h.CPUs = runtime.NumCPU()
	}
	if h.MemoryMB == 0 {
		h.MemoryMB = fallbackMemoryMB
		if data, err := os.ReadFile("/proc/meminfo"); err == nil {
			if mb := memTotalMB(data); mb > 0 {
				h.MemoryMB = mb
			}
		}
	}
	return h
}

// memTotalMB returns MemTotal of a /proc/meminfo text in MB, 0 when it
// has none.
func memTotalMB(meminfo []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(meminfo))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0
		}
		return kb / 1024
	}
	return 0
}
