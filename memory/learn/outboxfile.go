package learn

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// How the outbox file is opened: checked, so that a damaged file is never
// taken for a new one nor crashes the process, and with disk space
// reserved ahead of it, so that a turn promised to be learned still fits
// when the disk fills.

// OutboxOptions configure OpenOutboxWith. Zero values take the defaults.
type OutboxOptions struct {
	// Limit bounds the pending turns.
	Limit int
	// FailOnCorrupt stops OpenOutboxWith with a *CorruptError when the
	// outbox file is damaged. By default the file is moved aside
	// (outbox.db.corrupt-<time>) and an empty outbox is started, reported
	// in Stats (and so in /readyz) until the next start.
	FailOnCorrupt bool
	// Reserve is the disk space kept allocated past the end of the outbox
	// file (DefaultReserve; negative: none). Turns already promised are
	// written into it when the disk is full; while it cannot be renewed,
	// Accepting refuses new turns.
	Reserve int64
	// Log receives the report of a damaged file.
	Log *slog.Logger
}

// DefaultReserve is the disk space reserved for promised turns.
const DefaultReserve = 8 << 20

// growStep is how much bbolt grows the file by past its first MiB (its
// default, 16 MiB, would outgrow the reserve).
const growStep = 1 << 20

// A CorruptError is an outbox file that cannot be read as one.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("outbox file %s is damaged: %v", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// openFile opens path as a bbolt file, checking it whole. Damage is
// reported as a *CorruptError; every other failure (permissions, I/O, the
// lock of another process) as itself.
func openFile(path string, load func(*bolt.Tx) error) (db *bolt.DB, err error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() == 0 {
		// bbolt would initialise it as a new file: a crash while it was
		// being created, or a file emptied by accident, whose turns are gone.
		return nil, &CorruptError{path, errors.New("the file is empty")}
	}
	// bbolt trusts the pages it reads: a damaged page can make it panic,
	// or fault on memory past the end of a truncated file. Both become
	// errors here. A panic in bolt.Open leaves its file open and mapped:
	// unlocked and closed here (the mapping, which keeps the file, stays
	// until exit; a damaged file is met once per start).
	var file *os.File
	defer func() {
		if r := recover(); r != nil {
			if db != nil {
				db.Close()
			} else if file != nil {
				unlock(file)
				file.Close()
			}
			db, err = nil, &CorruptError{path, fmt.Errorf("reading it failed: %v", r)}
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))

	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 2 * time.Second,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%s is locked by another process (is another memproxy running on this data directory?)", path)
		}
		var pathErr *fs.PathError
		var errno syscall.Errno
		if errors.As(err, &pathErr) || errors.As(err, &errno) {
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		return nil, &CorruptError{path, err}
	}
	db.AllocSize = growStep
	if err := check(db); err != nil {
		db.Close()
		return nil, &CorruptError{path, err}
	}
	if err := db.Update(load); err != nil {
		db.Close()
		if errors.Is(err, errDecode) {
			return nil, &CorruptError{path, err}
		}
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return db, nil
}

// errDecode marks a queued turn that cannot be decoded.
var errDecode = errors.New("undecodable entry")

// check verifies every page of db reachable from its meta page.
func check(db *bolt.DB) error {
	fi, err := os.Stat(db.Path())
	if err != nil {
		return err
	}
	return db.View(func(tx *bolt.Tx) error {
		// Pages past the end of the file would fault when read.
		if tx.Size() > fi.Size() {
			return fmt.Errorf("truncated: %d bytes, its pages reach %d", fi.Size(), tx.Size())
		}
		var first error
		for err := range tx.Check() { // read to the end: the check's goroutine sends them all
			if first == nil {
				first = err
			}
		}
		return first
	})
}

// quarantine moves a damaged outbox file aside and says so.
func quarantine(path string, cause error, log *slog.Logger) (string, error) {
	aside := path + ".corrupt-" + time.Now().UTC().Format("20060102T150405.000Z")
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("moving the damaged outbox %s aside: %w (after: %v)", path, err, cause)
	}
	log.Error("the outbox file was damaged: moved aside, starting an empty outbox; the turns queued in it are not learned",
		"file", path, "moved_to", aside, "err", cause)
	return aside, nil
}

// OpenOutboxWith opens (creating) the outbox in dir.
func OpenOutboxWith(dir string, opts OutboxOptions) (*Outbox, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Reserve == 0 {
		opts.Reserve = DefaultReserve
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: creating data directory: %w", err)
	}
	path := filepath.Join(dir, "outbox.db")
	var o *Outbox
	fresh := func() {
		o = &Outbox{limit: opts.Limit, reserve: opts.Reserve, wake: make(chan struct{}, 1), log: opts.Log}
	}
	fresh()
	db, err := openFile(path, o.load)
	var corrupt *CorruptError
	if errors.As(err, &corrupt) {
		if opts.FailOnCorrupt {
			return nil, fmt.Errorf("%w (learn.outbox_on_corrupt: fail; move it aside to start)", err)
		}
		aside, qerr := quarantine(path, err, opts.Log)
		if qerr != nil {
			return nil, fmt.Errorf("outbox: %w", qerr)
		}
		fresh()
		o.corrupt = fmt.Sprintf("damaged outbox file moved aside to %s: %v", filepath.Base(aside), corrupt.Err)
		db, err = openFile(path, o.load)
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o.db = db
	o.commits.db = db
	if o.file, err = os.OpenFile(path, os.O_RDWR, 0); err != nil {
		db.Close()
		return nil, fmt.Errorf("outbox: %w", err)
	}
	o.space = o.renewReserve
	o.checkSpace()
	return o, nil
}

// load reads the queued turns into the outbox's index.
func (o *Outbox) load(tx *bolt.Tx) error {
	p, err := tx.CreateBucketIfNotExists(bucketPending)
	if err != nil {
		return err
	}
	d, err := tx.CreateBucketIfNotExists(bucketDead)
	if err != nil {
		return err
	}
	o.dead = d.Stats().KeyN
	return p.ForEach(func(k, v []byte) error {
		e, err := decodeEntry(v)
		if err != nil {
			return fmt.Errorf("%w: queued turn %x: %v", errDecode, k, err)
		}
		o.pending = append(o.pending, &pending{seq: e.Seq, conv: keyOf(e.Turn), turnTime: e.Turn.Time, nextTry: e.NextTry})
		return nil
	})
}

// renewReserve keeps the reserve allocated past the end of the file and
// reports whether the disk could renew it once spent: an error when it
// cannot, the time to refuse new turns.
func (o *Outbox) renewReserve() error {
	if o.reserve < 0 {
		return nil
	}
	fi, err := o.file.Stat()
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if want := fi.Size() + o.reserve; want > o.reservedTo {
		switch err := allocate(o.file, want); {
		case errors.Is(err, errors.ErrUnsupported):
			// The file system cannot reserve space (the promise then rests
			// on the free space check below alone).
		case err != nil:
			return fmt.Errorf("outbox: reserving %d bytes of disk for promised turns: %w", o.reserve, err)
		default:
			o.reservedTo = want
		}
	}
	if free, err := freeSpace(filepath.Dir(o.db.Path())); err == nil && free < o.reserve {
		return fmt.Errorf("outbox: %d bytes free on disk, fewer than the %d kept in reserve: %w", free, o.reserve, syscall.ENOSPC)
	}
	return nil
}
