//go:build !linux

package mask

import "time"

func threadCPU() (time.Duration, bool) { return 0, false }
