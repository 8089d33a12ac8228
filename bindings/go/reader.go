package zkutil

/*
#include <stdint.h>
#include <stdlib.h>
#include <zkutil.h>

zku_rc go_zku_reader_new(const zku_client *client, const char *path, uintptr_t h, int32_t timeout_ms,
	const zku_cancel *cancel, zku_reader **out, zku_error **err);
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"sync"
)

// Reader is a cached reader of one node holding a JSON object: it keeps
// following the node and reports every change. Safe for concurrent use;
// Close it when done.
type Reader struct {
	mu      sync.RWMutex // held for reading by every call, for writing by Close
	r       *C.zku_reader
	closeMu sync.Mutex
	events  *sink[ReaderEvent]
}

// ReaderEvent is one thing that happened to a reader's node: Old and New
// are the JSON text before and after (equal except for ReaderEventChanged),
// Stat the stat of New.
type ReaderEvent struct {
	Kind     ReaderEventKind
	Path     string
	Old, New string
	Stat     Stat
}

// NewReader reads the node at path, which must hold a JSON object
// (ErrNotObject, ErrJSON), and keeps following it. onEvent (may be nil)
// is called with every event on a library thread, one call at a time; a
// panic in it is recovered and returned by Close.
func (c *Client) NewReader(ctx context.Context, path string, onEvent func(ReaderEvent)) (*Reader, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	s := newSink[ReaderEvent](64)
	s.setFunc(onEvent)
	h := newHandle(s)
	var r *C.zku_reader
	var cerr *C.zku_error
	if rc := C.go_zku_reader_new(cl, p, h, o.timeout, o.cancel, &r, &cerr); rc != 0 {
		cgo.Handle(h).Delete()
		return nil, o.fail(rc, cerr)
	}
	return &Reader{r: r, events: s}, nil
}

func (r *Reader) use() (*C.zku_reader, error) {
	r.mu.RLock()
	if r.r == nil {
		r.mu.RUnlock()
		return nil, closedError("reader")
	}
	return r.r, nil
}

// begin starts a blocking call under ctx, holding r.mu for reading until
// end.
func (r *Reader) begin(ctx context.Context) (*C.zku_reader, op, error) {
	cr, err := r.use()
	if err != nil {
		return nil, op{}, err
	}
	o, err := start(ctx, noLimit)
	if err != nil {
		r.mu.RUnlock()
		return nil, op{}, err
	}
	return cr, o, nil
}

func (r *Reader) end(o *op) {
	o.end()
	r.mu.RUnlock()
}

// Events gives the channel of the reader's events, closed after the last
// one (by Close, or after ReaderEventExpired / ReaderEventClosed). It is
// buffered: a consumer that falls behind loses the oldest events, never
// the newest.
func (r *Reader) Events() <-chan ReaderEvent { return r.events.ch }

// Close stops the reader (a blocked Watch returns ErrClosed), waits for a
// running onEvent to return, and frees it. It returns the first panic of
// onEvent, if any.
func (r *Reader) Close() error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	r.mu.RLock()
	cr := r.r
	r.mu.RUnlock()
	if cr == nil {
		return nil
	}
	C.zku_reader_close(cr)
	r.mu.Lock() // waits for calls in progress; later ones fail with ErrClosed
	r.r = nil
	r.mu.Unlock()
	C.zku_reader_free(cr) // outside r.mu: the event callback may use the reader
	return r.events.err()
}

// Get is the whole cached value as JSON text and its stat, without
// waiting. While stale, deleted or invalid it is the last good value (see
// State).
func (r *Reader) Get() (string, Stat, error) {
	cr, err := r.use()
	if err != nil {
		return "", Stat{}, err
	}
	defer r.mu.RUnlock()
	var json *C.char
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_reader_get(cr, &json, &st, &cerr); rc != 0 {
		return "", Stat{}, errorFrom(rc, cerr)
	}
	return takeString(json), statFrom(&st), nil
}

// GetPointer is one member of the cached value by JSON Pointer
// ("/jobs/num"; "" is the whole object) as compact JSON text;
// ErrNoMember when nothing is there.
func (r *Reader) GetPointer(pointer string) (string, error) {
	cr, err := r.use()
	if err != nil {
		return "", err
	}
	defer r.mu.RUnlock()
	p := C.CString(pointer)
	defer freeString(p)
	var json *C.char
	var cerr *C.zku_error
	if rc := C.zku_reader_get_pointer(cr, p, &json, &cerr); rc != 0 {
		return "", errorFrom(rc, cerr)
	}
	return takeString(json), nil
}

// Watch waits until the value changes after the last change Watch
// returned (or since the reader was made) and returns the JSON text before
// and after and the new stat. Changes are never missed but may be
// coalesced. Use one watching goroutine per reader.
func (r *Reader) Watch(ctx context.Context) (string, string, Stat, error) {
	cr, o, err := r.begin(ctx)
	if err != nil {
		return "", "", Stat{}, err
	}
	defer r.end(&o)
	var oldJSON, newJSON *C.char
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_reader_watch(cr, o.timeout, o.cancel, &oldJSON, &newJSON, &st, &cerr); rc != 0 {
		return "", "", Stat{}, o.fail(rc, cerr)
	}
	return takeString(oldJSON), takeString(newJSON), statFrom(&st), nil
}

// State is the reader's state (ReaderStateClosed once closed).
func (r *Reader) State() ReaderState {
	cr, err := r.use()
	if err != nil {
		return ReaderStateClosed
	}
	defer r.mu.RUnlock()
	return ReaderState(C.zku_reader_state(cr))
}

// FD is a descriptor that becomes readable on every reader event (and
// once right after its creation), for poll or epoll; call FDDrain when it
// is, then Get the value. It belongs to the reader (closed by Close): do
// not read, write or close it.
func (r *Reader) FD() (int, error) {
	cr, err := r.use()
	if err != nil {
		return -1, err
	}
	defer r.mu.RUnlock()
	return descriptor(func(fd *C.int, cerr **C.zku_error) C.zku_rc { return C.zku_reader_fd(cr, fd, cerr) })
}

// FDDrain empties the descriptor of FD and returns the reader's state
// (ReaderStateClosed once closed).
func (r *Reader) FDDrain() ReaderState {
	cr, err := r.use()
	if err != nil {
		return ReaderStateClosed
	}
	defer r.mu.RUnlock()
	return ReaderState(C.zku_reader_fd_drain(cr))
}
