package mask

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used, so benchmarks on a shared
// machine can report throughput per CPU-second next to wall-clock MB/s.
func threadCPU() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
