//go:build !linux

package learn

import (
	"errors"
	"os"
)

// allocate cannot reserve disk space here.
func allocate(*os.File, int64) error { return errors.ErrUnsupported }

// freeSpace is not known here.
func freeSpace(string) (int64, error) { return 0, errors.ErrUnsupported }

// unlock is left to the file's closing here.
func unlock(*os.File) {}
