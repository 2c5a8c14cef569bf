package learn

import (
	"errors"
	"os"
	"syscall"
)

// allocate reserves the disk blocks of f up to size without changing its
// length (FALLOC_FL_KEEP_SIZE): bbolt's later writes there need no space.
func allocate(f *os.File, size int64) error {
	const keepSize = 0x1
	err := syscall.Fallocate(int(f.Fd()), keepSize, 0, size)
	if errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS) {
		return errors.ErrUnsupported
	}
	return err
}

// freeSpace is the space free to this process on the file system of dir.
func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// unlock releases bbolt's lock on f, which its mapping would otherwise
// keep after f is closed.
func unlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
