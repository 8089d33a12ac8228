package zkutil

/*
#include <stdint.h>
#include <zkutil.h>
*/
import "C"

import (
	"runtime/cgo"
	"sync"
	"time"
)

// stateSink is a handle's state callback (Client, Lock, Fifo,
// Registration): registered on the first OnState or States, then kept
// until the handle is freed.
type stateSink[T any] struct {
	mu sync.Mutex
	s  *sink[T]
}

// get gives the sink, registering it on first use: register hands the
// cgo.Handle to the library's set_state_callback.
func (ss *stateSink[T]) get(register func(h C.uintptr_t) error) (*sink[T], error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.s != nil {
		return ss.s, nil
	}
	s := newSink[T](16)
	h := newHandle(s)
	if err := register(h); err != nil {
		cgo.Handle(h).Delete()
		return nil, err
	}
	ss.s = s
	return s, nil
}

// set keeps s, registered with the handle when it was made.
func (ss *stateSink[T]) set(s *sink[T]) {
	ss.mu.Lock()
	ss.s = s
	ss.mu.Unlock()
}

// err is the first panic of the user func, if any.
func (ss *stateSink[T]) err() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.s == nil {
		return nil
	}
	return ss.s.err()
}

// lockStateFunc adapts an OnState func of Lock and Fifo to their sink
// (nil stays nil).
func lockStateFunc(fn func(old, new LockState)) func(LockStateChange) {
	if fn == nil {
		return nil
	}
	return func(ch LockStateChange) { fn(ch.Old, ch.New) }
}

// lockTimeout is the default_timeout_ms of a lock or FIFO handle: 0 is the
// library default, negative no limit.
func lockTimeout(d time.Duration) C.int32_t {
	switch {
	case d == 0:
		return lockDefaultTimeout
	case d < 0:
		return -1
	default:
		return C.int32_t(d.Milliseconds())
	}
}

// descriptor runs a handle's zku_*_fd call (FD of Client, Reader, Lock,
// Fifo, Registration).
func descriptor(call func(fd *C.int, cerr **C.zku_error) C.zku_rc) (int, error) {
	var fd C.int
	var cerr *C.zku_error
	if rc := call(&fd, &cerr); rc != 0 {
		return -1, errorFrom(rc, cerr)
	}
	return int(fd), nil
}
