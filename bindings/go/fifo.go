package zkutil

/*
#include <stdint.h>
#include <stdlib.h>
#include <zkutil.h>

zku_rc go_zku_fifo_set_state_callback(const zku_fifo *fifo, uintptr_t h, zku_error **err);
*/
import "C"

import (
	"context"
	"sync"
	"time"
)

// Fifo is a sequential lock (docs/fifo.md): contenders queue as ephemeral
// sequential nodes under lock_dir + name and are granted the lock in
// arrival order, in Apache Curator's layouts. One type serves the FIFO
// mutex (NewFifo), the leader latch (NewLeader: LockHeld is leader) and
// both sides of a read-write lock (NewReadLock, NewWriteLock, NewReadOf).
// Not compatible with Lock on the same name. Safe to use from several
// goroutines. Calls without a context deadline use the default timeout.
type Fifo struct {
	mu      sync.RWMutex // held for reading by every call, for writing by Close
	f       *C.zku_fifo
	closeMu sync.Mutex
	states  stateSink[LockStateChange]
}

// FifoOptions are the optional parts of a Fifo.
type FifoOptions struct {
	// Identifier is the data of our node, shown to the other contenders
	// by Contenders ("": a new unique one; NewReadOf: the write side's).
	Identifier string
	// DefaultTimeout bounds calls whose context has no deadline
	// (0: the library default, 10 s; negative: no limit).
	DefaultTimeout time.Duration
}

func (o *FifoOptions) args() (ident *C.char, timeout C.int32_t) {
	if o == nil {
		return nil, lockDefaultTimeout
	}
	return optString(o.Identifier), lockTimeout(o.DefaultTimeout)
}

// fifoKind says which zku_fifo_new* makes a handle.
type fifoKind int

const (
	fifoMutex fifoKind = iota
	fifoLeader
	fifoRead
	fifoWrite
)

func (c *Client) newFifo(kind fifoKind, name string, opts *FifoOptions) (*Fifo, error) {
	cl, err := c.use()
	if err != nil {
		return nil, err
	}
	defer c.mu.RUnlock()
	ident, timeout := opts.args()
	defer freeString(ident)
	n := C.CString(name)
	defer freeString(n)
	var f *C.zku_fifo
	var cerr *C.zku_error
	var rc C.zku_rc
	switch kind {
	case fifoMutex:
		rc = C.zku_fifo_new(cl, n, ident, timeout, &f, &cerr)
	case fifoLeader:
		rc = C.zku_fifo_new_leader(cl, n, ident, timeout, &f, &cerr)
	case fifoRead:
		rc = C.zku_fifo_new_read(cl, n, ident, timeout, &f, &cerr)
	case fifoWrite:
		rc = C.zku_fifo_new_write(cl, n, ident, timeout, &f, &cerr)
	}
	if rc != 0 {
		return nil, errorFrom(rc, cerr)
	}
	return &Fifo{f: f}, nil
}

// NewFifo makes a FIFO mutex on name (lock_dir + name, Curator's
// InterProcessMutex layout) using the client's session (the client must
// stay open while it is used). Nothing is sent. opts may be nil.
func (c *Client) NewFifo(name string, opts *FifoOptions) (*Fifo, error) {
	return c.newFifo(fifoMutex, name, opts)
}

// NewLeader makes a leader-election participant on name (Curator
// LeaderLatch's layout): Acquire waits to become leader (run it in a
// goroutine of its own to stand by), Release resigns, Contenders lists
// the participants, the leader first; LockSuspended and LockLost tell a
// leader it may have lost, or has lost, leadership.
func (c *Client) NewLeader(name string, opts *FifoOptions) (*Fifo, error) {
	return c.newFifo(fifoLeader, name, opts)
}

// NewReadLock makes the read side of the read-write lock name (Curator
// InterProcessReadWriteLock's layout): held together with other readers
// unless a writer is ahead in line.
func (c *Client) NewReadLock(name string, opts *FifoOptions) (*Fifo, error) {
	return c.newFifo(fifoRead, name, opts)
}

// NewWriteLock makes the write side of the read-write lock name: held
// alone, once every reader and writer ahead in line let go.
func (c *Client) NewWriteLock(name string, opts *FifoOptions) (*Fifo, error) {
	return c.newFifo(fifoWrite, name, opts)
}

// NewReadOf makes the read side that belongs to this write side: an
// Acquire begun while f is held is granted at once, and releasing f then
// leaves it an ordinary reader ahead of the waiting writers (a
// downgrade). Its fencing token is the write side's. ErrInvalid when f
// is not a write side. f may be closed first.
func (f *Fifo) NewReadOf(opts *FifoOptions) (*Fifo, error) {
	cf, err := f.use()
	if err != nil {
		return nil, err
	}
	defer f.mu.RUnlock()
	ident, timeout := opts.args()
	defer freeString(ident)
	var r *C.zku_fifo
	var cerr *C.zku_error
	if rc := C.zku_fifo_new_read_of(cf, ident, timeout, &r, &cerr); rc != 0 {
		return nil, errorFrom(rc, cerr)
	}
	return &Fifo{f: r}, nil
}

func (f *Fifo) use() (*C.zku_fifo, error) {
	f.mu.RLock()
	if f.f == nil {
		f.mu.RUnlock()
		return nil, closedError("fifo")
	}
	return f.f, nil
}

// begin starts a blocking call under ctx (without a deadline: the default
// timeout), holding f.mu for reading until end.
func (f *Fifo) begin(ctx context.Context) (*C.zku_fifo, op, error) {
	cf, err := f.use()
	if err != nil {
		return nil, op{}, err
	}
	o, err := start(ctx, lockDefaultTimeout)
	if err != nil {
		f.mu.RUnlock()
		return nil, op{}, err
	}
	return cf, o, nil
}

func (f *Fifo) end(o *op) {
	o.end()
	f.mu.RUnlock()
}

// Close frees the handle: ends acquires running in other goroutines with
// ErrCancelled, waits for the other calls in progress, releases the lock
// if held (up to the default timeout, capped at the session timeout),
// stops the state callback and closes the States channel. It returns the
// first panic of the state callback, if any.
func (f *Fifo) Close() error {
	f.closeMu.Lock()
	defer f.closeMu.Unlock()
	f.mu.RLock()
	cf := f.f
	f.mu.RUnlock()
	if cf == nil {
		return nil
	}
	C.zku_fifo_cancel(cf)
	f.mu.Lock() // waits for calls in progress; later ones fail with ErrClosed
	f.f = nil
	f.mu.Unlock()
	C.zku_fifo_free(cf) // outside f.mu: the state callback may use the handle
	return f.states.err()
}

// Cancel makes acquires running on this handle, in any goroutine, return
// ErrCancelled promptly, leaving no node behind; later acquires are not
// affected.
func (f *Fifo) Cancel() {
	if cf, err := f.use(); err == nil {
		C.zku_fifo_cancel(cf)
		f.mu.RUnlock()
	}
}

// Acquire joins the queue and waits for our turn, and returns the fencing
// token (our node's czxid, increasing in the order the lock is held).
// Already held: the current token. ErrTimeout when others stayed ahead.
// A timed-out or cancelled acquire leaves no node behind.
func (f *Fifo) Acquire(ctx context.Context) (int64, error) {
	cf, o, err := f.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer f.end(&o)
	var token C.int64_t
	var cerr *C.zku_error
	if rc := C.zku_fifo_acquire(cf, o.timeout, o.cancel, &token, &cerr); rc != 0 {
		return 0, o.fail(rc, cerr)
	}
	return int64(token), nil
}

// TryAcquire makes one attempt that never waits behind another
// contender: locked says whether we hold it now, token is the fencing
// token when locked.
func (f *Fifo) TryAcquire(ctx context.Context) (locked bool, token int64, err error) {
	cf, o, err := f.begin(ctx)
	if err != nil {
		return false, 0, err
	}
	defer f.end(&o)
	var l C.bool
	var t C.int64_t
	var cerr *C.zku_error
	if rc := C.zku_fifo_try_acquire(cf, o.timeout, o.cancel, &l, &t, &cerr); rc != 0 {
		return false, 0, o.fail(rc, cerr)
	}
	return bool(l), int64(t), nil
}

// Release deletes our node, never another's. Not held: nil, nothing
// sent. After the lock was lost: ErrLockLost (acknowledging it).
func (f *Fifo) Release(ctx context.Context) error {
	cf, o, err := f.begin(ctx)
	if err != nil {
		return err
	}
	defer f.end(&o)
	var cerr *C.zku_error
	if rc := C.zku_fifo_release(cf, o.timeout, o.cancel, &cerr); rc != 0 {
		return o.fail(rc, cerr)
	}
	return nil
}

// Contender is one node in a Fifo's queue.
type Contender struct {
	Name string // the node's name
	ID   string // its data: the contender's identifier
}

// Contenders lists the queue in order, the holder (or leader) first;
// empty when the lock is free.
func (f *Fifo) Contenders(ctx context.Context) ([]Contender, error) {
	cf, o, err := f.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer f.end(&o)
	var names, ids *C.zku_strings
	var cerr *C.zku_error
	if rc := C.zku_fifo_contenders(cf, o.timeout, o.cancel, &names, &ids, &cerr); rc != 0 {
		return nil, o.fail(rc, cerr)
	}
	n, i := takeStrings(names), takeStrings(ids)
	out := make([]Contender, len(n))
	for k := range out {
		out[k] = Contender{Name: n[k], ID: i[k]}
	}
	return out, nil
}

// GuardedSet sets path's data only if we still hold the lock (one multi
// operation checking our node), so a write after losing the lock fails
// even before the loss is noticed (ErrLockLost, ErrNotLocked).
func (f *Fifo) GuardedSet(ctx context.Context, path string, data []byte, version int32) (Stat, error) {
	cf, o, err := f.begin(ctx)
	if err != nil {
		return Stat{}, err
	}
	defer f.end(&o)
	p := C.CString(path)
	defer freeString(p)
	d, n := bytesArg(data)
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_fifo_guarded_set(cf, p, d, n, C.int32_t(version), o.timeout, o.cancel, &st, &cerr); rc != 0 {
		return Stat{}, o.fail(rc, cerr)
	}
	return statFrom(&st), nil
}

// GuardedDelete deletes path only if we still hold the lock.
func (f *Fifo) GuardedDelete(ctx context.Context, path string, version int32) error {
	cf, o, err := f.begin(ctx)
	if err != nil {
		return err
	}
	defer f.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var cerr *C.zku_error
	if rc := C.zku_fifo_guarded_delete(cf, p, C.int32_t(version), o.timeout, o.cancel, &cerr); rc != 0 {
		return o.fail(rc, cerr)
	}
	return nil
}

// State is the lock's state (LockUnlocked once closed).
func (f *Fifo) State() LockState {
	cf, err := f.use()
	if err != nil {
		return LockUnlocked
	}
	defer f.mu.RUnlock()
	return LockState(C.zku_fifo_get_state(cf))
}

// Token is the fencing token of the current acquisition (also while
// suspended or lost, until Release acknowledges it); ErrNotLocked when
// unlocked.
func (f *Fifo) Token() (int64, error) {
	cf, err := f.use()
	if err != nil {
		return 0, err
	}
	defer f.mu.RUnlock()
	var token C.int64_t
	var cerr *C.zku_error
	if rc := C.zku_fifo_token(cf, &token, &cerr); rc != 0 {
		return 0, errorFrom(rc, cerr)
	}
	return int64(token), nil
}

// LostReason says why the lock was lost, while LockLost ("" otherwise).
func (f *Fifo) LostReason() string {
	cf, err := f.use()
	if err != nil {
		return ""
	}
	defer f.mu.RUnlock()
	return takeString(C.zku_fifo_lost_reason(cf))
}

// Path is the lock path, the directory of the contenders' nodes.
func (f *Fifo) Path() string {
	cf, err := f.use()
	if err != nil {
		return ""
	}
	defer f.mu.RUnlock()
	return C.GoString(C.zku_fifo_path(cf))
}

// OnState sets the func called on every state change (nil: none), in
// order, on a library thread. A panic in it is recovered and returned by
// Close.
func (f *Fifo) OnState(fn func(old, new LockState)) error {
	s, err := f.stateSink()
	if err != nil {
		return err
	}
	s.setFunc(lockStateFunc(fn))
	return nil
}

// States gives a channel of state changes (the same one on every call),
// closed by Close; buffered as Lock.States.
func (f *Fifo) States() (<-chan LockStateChange, error) {
	s, err := f.stateSink()
	if err != nil {
		return nil, err
	}
	return s.ch, nil
}

func (f *Fifo) stateSink() (*sink[LockStateChange], error) {
	return f.states.get(func(h C.uintptr_t) error {
		cf, err := f.use()
		if err != nil {
			return err
		}
		defer f.mu.RUnlock()
		var cerr *C.zku_error
		if rc := C.go_zku_fifo_set_state_callback(cf, h, &cerr); rc != 0 {
			return errorFrom(rc, cerr)
		}
		return nil
	})
}

// FD is a descriptor that becomes readable on every state change (and
// once right after its creation), for poll or epoll; call FDDrain when it
// is. It belongs to the handle (closed by Close): do not read, write or
// close it.
func (f *Fifo) FD() (int, error) {
	cf, err := f.use()
	if err != nil {
		return -1, err
	}
	defer f.mu.RUnlock()
	return descriptor(func(fd *C.int, cerr **C.zku_error) C.zku_rc { return C.zku_fifo_fd(cf, fd, cerr) })
}

// FDDrain empties the descriptor of FD and returns the current state.
func (f *Fifo) FDDrain() LockState {
	cf, err := f.use()
	if err != nil {
		return LockUnlocked
	}
	defer f.mu.RUnlock()
	return LockState(C.zku_fifo_fd_drain(cf))
}
