// Package zkutil is the Go binding of zkutil, a Rust library of ZooKeeper
// recipes with a C ABI: a lock with fencing tokens, compare-and-swap,
// waits, a cached reader, digest-ACL helpers and tree import/export.
//
// Every call that may wait takes a context.Context: its deadline becomes
// the call's timeout and its cancellation cancels the call (within 50 ms)
// through the library's cancel object. A context without a deadline waits
// as long as it is not cancelled (lock calls: the lock's default timeout).
//
// Errors are *Error values carrying the library's code and message;
// errors.Is(err, zkutil.ErrNoNode) works for every code, and an error
// caused by the context also matches context.Canceled or
// context.DeadlineExceeded.
//
// The package links libzkutil through pkg-config: the shared library by
// default (pkg-config package zkutil), the static one with the build tag
// zkutil_static (package zkutil-static).
package zkutil

//go:generate go run ./internal/gen ../../include/zkutil.h constants.go

/*
#include <stdlib.h>
#include <zkutil.h>
*/
import "C"

import (
	"context"
	"math"
	"runtime"
	"time"
	"unsafe"
)

// Version is the version of the linked library, e.g. "0.1.0".
func Version() string { return C.GoString(C.zku_version()) }

// Stat is a znode's metadata, as ZooKeeper's Stat.
type Stat struct {
	Czxid          int64 // zxid of the change that created the node (a lock's fencing token)
	Mzxid          int64 // zxid of the last data change
	Ctime          int64 // creation time, ms since the epoch
	Mtime          int64 // last modification time, ms since the epoch
	Pzxid          int64 // zxid of the last change to the children
	Version        int32 // number of data changes
	Cversion       int32 // number of changes to the children
	Aversion       int32 // number of ACL changes
	EphemeralOwner int64 // session id of the owner if ephemeral, else 0
	DataLength     int32 // length of the data in bytes
	NumChildren    int32 // number of children
}

func statFrom(s *C.zku_stat) Stat {
	return Stat{
		Czxid: int64(s.czxid), Mzxid: int64(s.mzxid), Ctime: int64(s.ctime), Mtime: int64(s.mtime),
		Pzxid: int64(s.pzxid), Version: int32(s.version), Cversion: int32(s.cversion),
		Aversion: int32(s.aversion), EphemeralOwner: int64(s.ephemeral_owner),
		DataLength: int32(s.data_length), NumChildren: int32(s.num_children),
	}
}

// op is one blocking call's timeout and cancel object, made from its
// context; a cancellable context is watched (ctxwatch.go) until end.
type op struct {
	ctx     context.Context
	timeout C.int32_t
	cancel  *C.zku_cancel
	watchID uint64
}

// start prepares a call under ctx; noDeadline is the timeout_ms to use
// when ctx has no deadline. Fails at once when ctx is already done.
func start(ctx context.Context, noDeadline C.int32_t) (op, error) {
	o := op{ctx: ctx, timeout: noDeadline}
	if err := ctx.Err(); err != nil {
		return o, contextError(err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return o, contextError(context.DeadlineExceeded)
		}
		ms := (left + time.Millisecond - 1) / time.Millisecond
		if ms > math.MaxInt32 {
			ms = math.MaxInt32
		}
		o.timeout = C.int32_t(ms)
	}
	if ctx.Done() != nil {
		o.watchID, o.cancel = watch(ctx)
	}
	// Pass through the scheduler before the C call. A goroutine that only
	// makes cgo calls never does, and after 10 ms of that, Go's sysmon
	// takes its P away during every call and polls every 20 µs, taking a
	// core from the library's threads and the server (README, Go binding).
	runtime.Gosched()
	return o, nil
}

// end ends the watch of the call's context, if any.
func (o *op) end() {
	if o.cancel != nil {
		unwatch(o.watchID)
	}
}

// fail turns a failed call's result into an error, linked to the
// context's error when the context ended the call.
func (o *op) fail(rc C.zku_rc, cerr *C.zku_error) error {
	e := errorFrom(rc, cerr)
	err := o.ctx.Err()
	if err == nil && e.Code == ErrTimeout {
		// The call's timeout was the context's deadline, rounded up; the
		// context's own timer may not have fired yet.
		if deadline, ok := o.ctx.Deadline(); ok && !time.Now().Before(deadline) {
			err = context.DeadlineExceeded
		}
	}
	if err != nil && (e.Code == ErrCancelled || e.Code == ErrTimeout || e.Code == ErrUnknown) {
		e.cause = err
	}
	return e
}

// pathArg is path as a NUL-terminated string in Go memory, for a C call
// that reads it during the call only: cheaper than C.CString and its free
// (two cgo calls).
func pathArg(path string) *C.char {
	b := make([]byte, len(path)+1)
	copy(b, path)
	return (*C.char)(unsafe.Pointer(&b[0]))
}

// freeString frees a C.CString.
func freeString(s *C.char) { C.free(unsafe.Pointer(s)) }

// optString is C.CString, with "" as NULL (the library's default).
func optString(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// takeString copies a string the library returned and frees it.
func takeString(s *C.char) string {
	if s == nil {
		return ""
	}
	defer C.zku_string_free(s)
	return C.GoString(s)
}

// takeBuf copies a buffer the library returned and frees it.
func takeBuf(b *C.zku_buf) []byte {
	if b == nil {
		return nil
	}
	defer C.zku_buf_free(b)
	return C.GoBytes(unsafe.Pointer(C.zku_buf_data(b)), C.int(C.zku_buf_len(b)))
}

// takeStrings copies a list the library returned and frees it.
func takeStrings(l *C.zku_strings) []string {
	defer C.zku_strings_free(l)
	n := int(C.zku_strings_len(l))
	out := make([]string, n)
	for i := range out {
		out[i] = C.GoString(C.zku_strings_get(l, C.size_t(i)))
	}
	return out
}

// bytesArg points C at data for the duration of a call (NULL when empty).
func bytesArg(data []byte) (*C.uint8_t, C.size_t) {
	if len(data) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&data[0])), C.size_t(len(data))
}

// cStrings makes a C array of C strings; free it with freeCStrings.
func cStrings(ss []string) []*C.char {
	out := make([]*C.char, len(ss))
	for i, s := range ss {
		out[i] = C.CString(s)
	}
	return out
}

func freeCStrings(ss []*C.char) {
	for _, s := range ss {
		C.free(unsafe.Pointer(s))
	}
}

// cStringsArg is the `const char *const *` and count of a cStrings array.
func cStringsArg(ss []*C.char) (**C.char, C.size_t) {
	if len(ss) == 0 {
		return nil, 0
	}
	return &ss[0], C.size_t(len(ss))
}
