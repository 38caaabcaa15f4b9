package storage

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/ncruces/go-sqlite3/vfs"
)

// SQLite appends a transaction to the WAL one frame at a time, and each frame
// in two writes: its 24-byte header, then the page. A group commit of a few
// tickets dirties some twenty-five pages, so fifty pwrite system calls, a
// tenth of the process's CPU under load. The walVFS is the operating
// system's VFS with one change: a connection's WAL file gathers the frames of
// a transaction in memory and writes them with one pwrite when the commit
// frame's page is written, before SQLite publishes the commit in the
// WAL-index. So nothing another connection can read, and nothing a commit
// promised, is ever held back: a committed transaction is in the file (the
// operating system's cache, as before: synchronous=NORMAL) by the time its
// COMMIT returns. Every other operation on the file (a read, a sync, a
// truncate, its size, closing it) first writes out what is gathered.
//
// Only a run of frames begun by a frame's header (or the WAL's header) is
// gathered. Anything else goes straight to the file: a commit header with
// nothing gathered before it (a one-page transaction; SQLite rewriting the
// checksums of frames it overwrote in place, each after reading the frame
// back; the padding frames synchronous=FULL writes up to a sector boundary)
// and the page after it, a page rewritten in place, and the rest of a page
// SQLite splits at a sync point.

// walVFSName is the name the DSN gives (vfs=…).
const walVFSName = "opsbot-wal"

const (
	walHeader      = 32
	walFrameHeader = 24
	// walGatherLimit bounds what one connection gathers: a transaction
	// larger than this is written in pieces of about this size.
	walGatherLimit = 128 << 10
	// walBufSize holds what is gathered below the limit, a commit frame's
	// header and its page of at most 64 KiB (SQLite's largest): appends
	// never grow a buffer.
	walBufSize = walGatherLimit + 2*walFrameHeader + 64<<10
)

func init() { vfs.Register(walVFSName, walVFS{VFS: vfs.Find(""), n: new(walCounts)}) }

type walVFS struct {
	vfs.VFS
	n *walCounts
}

// walCounts counts, over a VFS's WAL files, the writes SQLite asked for and
// the writes that reached the operating system, and keeps the largest
// gathered write.
type walCounts struct{ asked, written, largest atomic.Int64 }

func (v walVFS) OpenFilename(name *vfs.Filename, flags vfs.OpenFlag) (vfs.File, vfs.OpenFlag, error) {
	var (
		f   vfs.File
		out vfs.OpenFlag
		err error
	)
	if fn, ok := v.VFS.(vfs.VFSFilename); ok {
		f, out, err = fn.OpenFilename(name, flags)
	} else {
		f, out, err = v.VFS.Open(name.String(), flags)
	}
	if err != nil || flags&vfs.OPEN_WAL == 0 {
		return f, out, err
	}
	return &walFile{File: f, n: v.n}, out, nil
}

// walBufs holds the gathering buffers between transactions: the write gate
// lets one of the process's connections write at a time, so one buffer
// serves them all instead of each pooled connection keeping its own.
var walBufs = sync.Pool{New: func() any { b := make([]byte, 0, walBufSize); return &b }}

// walFile gathers contiguous writes to a WAL file.
type walFile struct {
	vfs.File
	n      *walCounts
	buf    []byte
	off    int64 // where buf starts in the file
	commit bool  // the last gathered write was a commit frame's header
}

func (w *walFile) WriteAt(p []byte, off int64) (int, error) {
	w.n.asked.Add(1)
	if len(w.buf) > 0 && off == w.off+int64(len(w.buf)) {
		w.buf = append(w.buf, p...)
		switch {
		case w.commit:
			// The commit frame's page: the transaction is complete.
			if err := w.flush(); err != nil {
				return 0, err
			}
		case isCommitHeader(p):
			w.commit = true
		case len(w.buf) >= walGatherLimit:
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
		return len(p), nil
	}
	if err := w.flush(); err != nil {
		return 0, err
	}
	if !startsRun(p, off) {
		// Only a run of frames is gathered, begun by a frame's header or
		// the WAL's. A commit header with nothing gathered before it (a
		// one-page transaction, a rewritten checksum, a padding frame), the
		// page after it, a page rewritten in place or the part of a page
		// after a sync point goes out at once.
		w.n.written.Add(1)
		return w.File.WriteAt(p, off)
	}
	if w.buf == nil {
		w.buf = (*walBufs.Get().(*[]byte))[:0]
	}
	w.buf = append(w.buf, p...)
	w.off = off
	return len(p), nil
}

// startsRun reports whether a write may begin a run of gathered frames: the
// header of a frame that is not a commit frame, or the WAL's own header.
func startsRun(p []byte, off int64) bool {
	return (len(p) == walFrameHeader && !isCommitHeader(p)) || (off == 0 && len(p) == walHeader)
}

// isCommitHeader reports whether p is a WAL frame header whose "database
// size after commit" field is set: the header of a transaction's last frame.
func isCommitHeader(p []byte) bool {
	return len(p) == walFrameHeader && binary.BigEndian.Uint32(p[4:8]) != 0
}

func (w *walFile) flush() error {
	w.commit = false
	if len(w.buf) == 0 {
		return nil
	}
	w.n.written.Add(1)
	if n := int64(len(w.buf)); n > w.n.largest.Load() {
		w.n.largest.Store(n)
	}
	_, err := w.File.WriteAt(w.buf, w.off)
	b := w.buf[:0]
	walBufs.Put(&b)
	w.buf = nil
	return err
}

func (w *walFile) ReadAt(p []byte, off int64) (int, error) {
	if err := w.flush(); err != nil {
		return 0, err
	}
	return w.File.ReadAt(p, off)
}

func (w *walFile) Sync(flags vfs.SyncFlag) error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.File.Sync(flags)
}

func (w *walFile) Truncate(size int64) error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.File.Truncate(size)
}

func (w *walFile) Size() (int64, error) {
	if err := w.flush(); err != nil {
		return 0, err
	}
	return w.File.Size()
}

func (w *walFile) Close() error {
	err := w.flush()
	if cerr := w.File.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *walFile) Unwrap() vfs.File { return w.File }
