//go:build !windows && !plan9 && !solaris && !aix && !android

package storage

import (
	"os"
	"syscall"
)

// releaseLock drops the flock bbolt took on f. Closing f alone is not enough
// when bbolt panicked after mapping the file: the memory map keeps the open
// file description, and so the lock, alive.
func releaseLock(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
