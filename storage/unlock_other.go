//go:build windows || plan9 || solaris || aix || android

package storage

import "os"

// releaseLock does nothing here: on these systems bbolt's lock goes with the
// file handle, which the caller closes next.
func releaseLock(*os.File) {}
