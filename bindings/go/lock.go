package zkutil

/*
#include <stdint.h>
#include <stdlib.h>
#include <zkutil.h>

zku_rc go_zku_lock_set_state_callback(const zku_lock *lock, uintptr_t h, zku_error **err);
zku_rc go_zku_lock_new_with_config(const zku_config *config, const char *name, const char *identifier,
	uint32_t flags, int32_t default_timeout_ms, uintptr_t h, const zku_cancel *cancel,
	zku_lock **out, zku_error **err);
zku_rc go_zku_lock_acquire_loop(const zku_lock *lock, int32_t timeout_ms, const zku_cancel *cancel,
	uintptr_t h, int64_t *token, zku_error **err);
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"sync"
	"time"
)

// Lock is a distributed lock on one node, lock_dir + name (k3zkutil's
// ZKLock, so Python k3zkutil processes and this one exclude each other),
// with a fencing token: the lock node's czxid, larger for every new
// acquisition. Safe to use from several goroutines. Calls without a
// context deadline use the lock's default timeout.
type Lock struct {
	mu      sync.RWMutex // held for reading by every call, for writing by Close
	l       *C.zku_lock
	closeMu sync.Mutex
	states  stateSink[LockStateChange]
}

// LockStateChange is a lock state transition.
type LockStateChange struct {
	Old, New LockState
}

// LockOptions are the optional parts of a lock.
type LockOptions struct {
	// Identifier of the holder; "" makes a new unique one. Handles with
	// the same identifier count as the same holder.
	Identifier string
	// Persistent: the node survives the session (default: ephemeral).
	Persistent bool
	// DefaultTimeout bounds calls whose context has no deadline
	// (0: the library default, 10 s; negative: no limit).
	DefaultTimeout time.Duration
}

func (o *LockOptions) args() (ident *C.char, flags C.uint32_t, timeout C.int32_t) {
	if o == nil {
		return nil, 0, lockDefaultTimeout
	}
	if o.Persistent {
		flags = C.uint32_t(LockPersistent)
	}
	return optString(o.Identifier), flags, lockTimeout(o.DefaultTimeout)
}

// NewLock makes a lock on name using the client's session (the client
// must stay open while the lock is used). Nothing is sent to the server.
// opts may be nil.
func (c *Client) NewLock(name string, opts *LockOptions) (*Lock, error) {
	cl, err := c.use()
	if err != nil {
		return nil, err
	}
	defer c.mu.RUnlock()
	ident, flags, timeout := opts.args()
	defer freeString(ident)
	n := C.CString(name)
	defer freeString(n)
	var l *C.zku_lock
	var cerr *C.zku_error
	if rc := C.zku_lock_new(cl, n, ident, flags, timeout, &l, &cerr); rc != 0 {
		return nil, errorFrom(rc, cerr)
	}
	return &Lock{l: l}, nil
}

// NewLockWithConfig makes a lock with its own session, connected from cfg
// (as Connect) and closed by Close. Nobody else watches that session, so
// watch the lock's state (OnState or States): it says when the lock is
// lost.
func NewLockWithConfig(ctx context.Context, cfg Config, name string, opts *LockOptions) (*Lock, error) {
	conf, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer C.zku_config_free(conf)
	o, err := start(ctx, noLimit)
	if err != nil {
		return nil, err
	}
	defer o.end()
	ident, flags, timeout := opts.args()
	defer freeString(ident)
	n := C.CString(name)
	defer freeString(n)
	s := newSink[LockStateChange](16)
	h := newHandle(s)
	var l *C.zku_lock
	var cerr *C.zku_error
	if rc := C.go_zku_lock_new_with_config(conf, n, ident, flags, timeout, h, o.cancel, &l, &cerr); rc != 0 {
		cgo.Handle(h).Delete()
		return nil, o.fail(rc, cerr)
	}
	lock := &Lock{l: l}
	lock.states.set(s)
	return lock, nil
}

func (l *Lock) use() (*C.zku_lock, error) {
	l.mu.RLock()
	if l.l == nil {
		l.mu.RUnlock()
		return nil, closedError("lock")
	}
	return l.l, nil
}

// begin starts a blocking call under ctx (without a deadline: the lock's
// default timeout), holding l.mu for reading until end.
func (l *Lock) begin(ctx context.Context) (*C.zku_lock, op, error) {
	cl, err := l.use()
	if err != nil {
		return nil, op{}, err
	}
	o, err := start(ctx, lockDefaultTimeout)
	if err != nil {
		l.mu.RUnlock()
		return nil, op{}, err
	}
	return cl, o, nil
}

func (l *Lock) end(o *op) {
	o.end()
	l.mu.RUnlock()
}

// Close frees the lock: releases it first if held (up to the default
// timeout, capped at the session timeout), stops the state callback,
// closes its own session (NewLockWithConfig) and closes the States
// channel. Acquires blocked in other goroutines are cancelled first. It
// returns the first panic of the state callback, if any.
func (l *Lock) Close() error {
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	l.mu.RLock()
	cl := l.l
	l.mu.RUnlock()
	if cl == nil {
		return nil
	}
	C.zku_lock_cancel(cl)
	l.mu.Lock() // waits for calls in progress; later ones fail with ErrClosed
	l.l = nil
	l.mu.Unlock()
	C.zku_lock_free(cl) // outside l.mu: the state callback may use the lock
	return l.states.err()
}

// Acquire takes the lock, waiting for the holder to let go, and returns
// the fencing token. Already held by this handle: the current token.
// ErrTimeout when another holder kept it (the message names it). A
// cancelled or timed-out acquire leaves no node behind.
func (l *Lock) Acquire(ctx context.Context) (int64, error) {
	cl, o, err := l.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer l.end(&o)
	var token C.int64_t
	var cerr *C.zku_error
	if rc := C.zku_lock_acquire(cl, o.timeout, o.cancel, &token, &cerr); rc != 0 {
		return 0, o.fail(rc, cerr)
	}
	return int64(token), nil
}

// holderRun carries an AcquireLoop func and what stopped it.
type holderRun struct {
	fn  func(holder []byte, version int32) bool
	err error
}

func (r *holderRun) call(holder []byte, version int32) (stop bool) {
	defer func() {
		if p := recover(); p != nil {
			r.err = &PanicError{Value: p}
			stop = true
		}
	}()
	return r.fn(holder, version)
}

// AcquireLoop is Acquire, calling onHolder (in this goroutine's thread)
// each time the holder's node changes while waiting, first when the lock
// is found taken: holder is its data, version the node version.
// onHolder returning true stops waiting (ErrAborted); a panic in it stops
// waiting too and is returned (ErrAborted wrapping a *PanicError).
func (l *Lock) AcquireLoop(ctx context.Context, onHolder func(holder []byte, version int32) (stop bool)) (int64, error) {
	cl, o, err := l.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer l.end(&o)
	run := &holderRun{fn: onHolder}
	h := cgo.NewHandle(run)
	defer h.Delete()
	var token C.int64_t
	var cerr *C.zku_error
	if rc := C.go_zku_lock_acquire_loop(cl, o.timeout, o.cancel, C.uintptr_t(h), &token, &cerr); rc != 0 {
		e := o.fail(rc, cerr)
		if run.err != nil {
			return 0, aborted("AcquireLoop holder func", run.err)
		}
		return 0, e
	}
	return int64(token), nil
}

// TryResult is what TryAcquire and TryRelease found.
type TryResult struct {
	Done    bool   // TryAcquire: we hold the lock now; TryRelease: released (or no node)
	Holder  []byte // the holder's node data
	Version int32  // the node version (TryRelease: -1 when there was no node)
	Token   int64  // TryAcquire: the fencing token when locked, else 0
}

// TryAcquire makes one attempt that never waits for the holder
// (k3zkutil's try_acquire); the context bounds only the wait for a
// connection and the reply.
func (l *Lock) TryAcquire(ctx context.Context) (TryResult, error) {
	cl, o, err := l.begin(ctx)
	if err != nil {
		return TryResult{}, err
	}
	defer l.end(&o)
	var locked C.bool
	var holder *C.zku_buf
	var version C.int32_t
	var token C.int64_t
	var cerr *C.zku_error
	if rc := C.zku_lock_try_acquire(cl, o.timeout, o.cancel, &locked, &holder, &version, &token, &cerr); rc != 0 {
		return TryResult{}, o.fail(rc, cerr)
	}
	return TryResult{Done: bool(locked), Holder: takeBuf(holder), Version: int32(version), Token: int64(token)}, nil
}

// Release deletes our lock node, never another holder's. Not held: nil,
// nothing sent. After the lock was lost: ErrLockLost (acknowledging it).
func (l *Lock) Release(ctx context.Context) error {
	cl, o, err := l.begin(ctx)
	if err != nil {
		return err
	}
	defer l.end(&o)
	var cerr *C.zku_error
	if rc := C.zku_lock_release(cl, o.timeout, o.cancel, &cerr); rc != 0 {
		return o.fail(rc, cerr)
	}
	return nil
}

// TryRelease is k3zkutil's try_release: deletes the lock node if it holds
// our identifier (whoever created it), else leaves it.
func (l *Lock) TryRelease(ctx context.Context) (TryResult, error) {
	cl, o, err := l.begin(ctx)
	if err != nil {
		return TryResult{}, err
	}
	defer l.end(&o)
	var released C.bool
	var holder *C.zku_buf
	var version C.int32_t
	var cerr *C.zku_error
	if rc := C.zku_lock_try_release(cl, o.timeout, o.cancel, &released, &holder, &version, &cerr); rc != 0 {
		return TryResult{}, o.fail(rc, cerr)
	}
	return TryResult{Done: bool(released), Holder: takeBuf(holder), Version: int32(version)}, nil
}

// SetWatchDelay sets how long after each later acquisition the lock node
// is read again and watched (default LockDefaultWatchDelayMS).
func (l *Lock) SetWatchDelay(delay time.Duration) error {
	cl, err := l.use()
	if err != nil {
		return err
	}
	defer l.mu.RUnlock()
	var cerr *C.zku_error
	if rc := C.zku_lock_set_watch_delay(cl, C.int32_t(delay.Milliseconds()), &cerr); rc != 0 {
		return errorFrom(rc, cerr)
	}
	return nil
}

// Cancel makes acquires blocked on this lock, in any goroutine, return
// ErrCancelled promptly; later acquires are not affected.
func (l *Lock) Cancel() {
	if cl, err := l.use(); err == nil {
		C.zku_lock_cancel(cl)
		l.mu.RUnlock()
	}
}

// State is the lock's state (LockUnlocked once closed).
func (l *Lock) State() LockState {
	cl, err := l.use()
	if err != nil {
		return LockUnlocked
	}
	defer l.mu.RUnlock()
	return LockState(C.zku_lock_get_state(cl))
}

// IsLocked is true only while LockHeld.
func (l *Lock) IsLocked() bool { return l.State() == LockHeld }

// Token is the fencing token of the current acquisition (also while
// suspended or lost, until Release acknowledges it); ErrNotLocked when
// unlocked.
func (l *Lock) Token() (int64, error) {
	cl, err := l.use()
	if err != nil {
		return 0, err
	}
	defer l.mu.RUnlock()
	var token C.int64_t
	var cerr *C.zku_error
	if rc := C.zku_lock_token(cl, &token, &cerr); rc != 0 {
		return 0, errorFrom(rc, cerr)
	}
	return int64(token), nil
}

// LostReason says why the lock was lost, while LockLost ("" otherwise).
func (l *Lock) LostReason() string {
	cl, err := l.use()
	if err != nil {
		return ""
	}
	defer l.mu.RUnlock()
	return takeString(C.zku_lock_lost_reason(cl))
}

// Identifier is this handle's holder identifier.
func (l *Lock) Identifier() string {
	cl, err := l.use()
	if err != nil {
		return ""
	}
	defer l.mu.RUnlock()
	return C.GoString(C.zku_lock_identifier(cl))
}

// Path is the lock node's path.
func (l *Lock) Path() string {
	cl, err := l.use()
	if err != nil {
		return ""
	}
	defer l.mu.RUnlock()
	return C.GoString(C.zku_lock_path(cl))
}

// OnState sets the func called on every lock state change (nil: none), in
// order, on a library thread. A panic in it is recovered and returned by
// Close.
func (l *Lock) OnState(fn func(old, new LockState)) error {
	s, err := l.stateSink()
	if err != nil {
		return err
	}
	s.setFunc(lockStateFunc(fn))
	return nil
}

// States gives a channel of lock state changes (the same one on every
// call), closed by Close. It is buffered: a reader that falls behind loses
// the oldest changes, never the latest.
func (l *Lock) States() (<-chan LockStateChange, error) {
	s, err := l.stateSink()
	if err != nil {
		return nil, err
	}
	return s.ch, nil
}

func (l *Lock) stateSink() (*sink[LockStateChange], error) {
	return l.states.get(func(h C.uintptr_t) error {
		cl, err := l.use()
		if err != nil {
			return err
		}
		defer l.mu.RUnlock()
		var cerr *C.zku_error
		if rc := C.go_zku_lock_set_state_callback(cl, h, &cerr); rc != 0 {
			return errorFrom(rc, cerr)
		}
		return nil
	})
}

// FD is a descriptor that becomes readable on every state change, for
// poll or epoll; call FDDrain when it is. It belongs to the lock (closed
// by Close): do not read, write or close it.
func (l *Lock) FD() (int, error) {
	cl, err := l.use()
	if err != nil {
		return -1, err
	}
	defer l.mu.RUnlock()
	return descriptor(func(fd *C.int, cerr **C.zku_error) C.zku_rc { return C.zku_lock_fd(cl, fd, cerr) })
}

// FDDrain empties the descriptor of FD and returns the current state.
func (l *Lock) FDDrain() LockState {
	cl, err := l.use()
	if err != nil {
		return LockUnlocked
	}
	defer l.mu.RUnlock()
	return LockState(C.zku_lock_fd_drain(cl))
}

// SetVal sets the lock node's "val" to valJSON while held, if the node's
// version is version (-1: the version this handle last saw or wrote), and
// returns the new version.
func (l *Lock) SetVal(ctx context.Context, valJSON string, version int32) (int32, error) {
	cl, o, err := l.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer l.end(&o)
	v := C.CString(valJSON)
	defer freeString(v)
	var newVersion C.int32_t
	var cerr *C.zku_error
	if rc := C.zku_lock_set_val(cl, v, C.int32_t(version), o.timeout, o.cancel, &newVersion, &cerr); rc != 0 {
		return 0, o.fail(rc, cerr)
	}
	return int32(newVersion), nil
}

// GetVal reads the lock node's "val" as JSON text and the node version,
// whoever holds it; ErrNoNode when nobody does.
func (l *Lock) GetVal(ctx context.Context) (string, int32, error) {
	cl, o, err := l.begin(ctx)
	if err != nil {
		return "", 0, err
	}
	defer l.end(&o)
	var val *C.char
	var version C.int32_t
	var cerr *C.zku_error
	if rc := C.zku_lock_get_val(cl, o.timeout, o.cancel, &val, &version, &cerr); rc != 0 {
		return "", 0, o.fail(rc, cerr)
	}
	return takeString(val), int32(version), nil
}

// Holder reads the current holder: its identifier ("" when the data has
// none), the node data and stat (Stat.Czxid is the holder's token);
// ErrNoNode when the lock is free.
func (l *Lock) Holder(ctx context.Context) (string, []byte, Stat, error) {
	cl, o, err := l.begin(ctx)
	if err != nil {
		return "", nil, Stat{}, err
	}
	defer l.end(&o)
	var id *C.char
	var data *C.zku_buf
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_lock_holder(cl, o.timeout, o.cancel, &id, &data, &st, &cerr); rc != 0 {
		return "", nil, Stat{}, o.fail(rc, cerr)
	}
	return takeString(id), takeBuf(data), statFrom(&st), nil
}

// GuardedSet sets path's data only if we still hold the lock (one multi
// operation checking the lock node), so a write after losing the lock
// fails even before the loss is noticed (ErrLockLost, ErrNotLocked).
func (l *Lock) GuardedSet(ctx context.Context, path string, data []byte, version int32) (Stat, error) {
	cl, o, err := l.begin(ctx)
	if err != nil {
		return Stat{}, err
	}
	defer l.end(&o)
	p := C.CString(path)
	defer freeString(p)
	d, n := bytesArg(data)
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_lock_guarded_set(cl, p, d, n, C.int32_t(version), o.timeout, o.cancel, &st, &cerr); rc != 0 {
		return Stat{}, o.fail(rc, cerr)
	}
	return statFrom(&st), nil
}

// GuardedDelete deletes path only if we still hold the lock.
func (l *Lock) GuardedDelete(ctx context.Context, path string, version int32) error {
	cl, o, err := l.begin(ctx)
	if err != nil {
		return err
	}
	defer l.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var cerr *C.zku_error
	if rc := C.zku_lock_guarded_delete(cl, p, C.int32_t(version), o.timeout, o.cancel, &cerr); rc != 0 {
		return o.fail(rc, cerr)
	}
	return nil
}
