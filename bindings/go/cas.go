package zkutil

/*
#include <stdint.h>
#include <stdlib.h>
#include <zkutil.h>

zku_rc go_zku_cas_update(const zku_client *client, const char *path, uint32_t flags,
	const uint8_t *initial, size_t initial_len, uintptr_t h, uint32_t max_attempts, int32_t timeout_ms,
	const zku_cancel *cancel, zku_stat *stat, uint32_t *attempts, zku_error **err);
*/
import "C"

import (
	"context"
	"errors"
	"runtime/cgo"
	"unsafe"
)

// CASOptions are the optional parts of a compare-and-swap.
type CASOptions struct {
	// Flags: CASJSON (values are JSON text, checked), CASCreate (a missing
	// node holds Initial and is created on commit), CASCreateParents.
	Flags CASFlag
	// Initial is the value assumed while the node does not exist
	// (with CASCreate only).
	Initial []byte
	// MaxAttempts bounds Update's func runs (0: only the context bounds it).
	MaxAttempts uint32
}

func (o *CASOptions) orDefault() *CASOptions {
	if o == nil {
		return &CASOptions{}
	}
	return o
}

// ErrSkip, returned by an Update func, ends the update without writing
// (Update then succeeds).
var ErrSkip = errors.New("zkutil: skip the write")

// UpdateFunc computes the new value from the current one (the initial
// value, and a nil stat, while the node does not exist). Return ErrSkip
// to stop without writing; any other error aborts the update, which
// returns it.
type UpdateFunc func(value []byte, stat *Stat) ([]byte, error)

// casRun carries an Update func and what stopped it.
type casRun struct {
	fn  UpdateFunc
	err error
}

func (r *casRun) call(value *C.uint8_t, n C.size_t, stat *C.zku_stat, next *C.zku_cas_next) (rc C.int32_t) {
	defer func() {
		if p := recover(); p != nil {
			r.err = &PanicError{Value: p}
			rc = -1
		}
	}()
	var st *Stat
	if stat != nil {
		s := statFrom(stat)
		st = &s
	}
	out, err := r.fn(C.GoBytes(unsafe.Pointer(value), C.int(n)), st)
	if err == ErrSkip {
		return casSkip
	}
	if err != nil {
		r.err = err
		return -1
	}
	d, dn := bytesArg(out)
	var cerr *C.zku_error
	if rc := C.zku_cas_next_set(next, d, dn, &cerr); rc != 0 {
		r.err = errorFrom(rc, cerr)
		return -1
	}
	return casWrite
}

// Update is the whole compare-and-swap loop: reads the node, calls fn on
// this goroutine to compute the new value, writes it with the read's
// version, and on a conflict reads again and repeats. It returns the stat
// after the write (or of the value fn skipped on) and the number of fn
// runs. When fn fails or panics, Update returns ErrAborted wrapping fn's
// error (or a *PanicError). ErrUnknown: a write's outcome could not be
// resolved in time; count it neither as done nor as failed.
func (c *Client) Update(ctx context.Context, path string, fn UpdateFunc, opts *CASOptions) (Stat, uint32, error) {
	opts = opts.orDefault()
	cl, o, err := c.begin(ctx)
	if err != nil {
		return Stat{}, 0, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	initial, n := bytesArg(opts.Initial)
	run := &casRun{fn: fn}
	h := cgo.NewHandle(run)
	defer h.Delete()
	var st C.zku_stat
	var attempts C.uint32_t
	var cerr *C.zku_error
	rc := C.go_zku_cas_update(cl, p, C.uint32_t(opts.Flags), initial, n, C.uintptr_t(h), C.uint32_t(opts.MaxAttempts), o.timeout, o.cancel, &st, &attempts, &cerr)
	if rc != 0 {
		e := o.fail(rc, cerr)
		if run.err != nil {
			return Stat{}, uint32(attempts), aborted("Update func", run.err)
		}
		return Stat{}, uint32(attempts), e
	}
	return statFrom(&st), uint32(attempts), nil
}

// CAS is a compare-and-swap handle for step-by-step use: the last read of
// one node and the version the next commit expects. Not safe for
// concurrent use; Close it when done.
type CAS struct {
	client *Client
	h      *C.zku_cas
}

// BeginCAS reads the node into a new CAS handle.
func (c *Client) BeginCAS(ctx context.Context, path string, opts *CASOptions) (*CAS, error) {
	opts = opts.orDefault()
	cl, o, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	initial, n := bytesArg(opts.Initial)
	var h *C.zku_cas
	var cerr *C.zku_error
	if rc := C.zku_cas_begin(cl, p, C.uint32_t(opts.Flags), initial, n, o.timeout, o.cancel, &h, &cerr); rc != 0 {
		return nil, o.fail(rc, cerr)
	}
	return &CAS{client: c, h: h}, nil
}

// Close frees the handle (a write of unknown outcome stays unknown).
func (x *CAS) Close() {
	C.zku_cas_free(x.h)
	x.h = nil
}

// Value is a copy of the current value (the initial value while the node
// does not exist).
func (x *CAS) Value() []byte {
	var data *C.uint8_t
	var n C.size_t
	if C.zku_cas_value(x.h, &data, &n, nil) != 0 {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(data), C.int(n))
}

// Stat is the stat of the current value (all zeros with Version -1 while
// the node does not exist).
func (x *CAS) Stat() Stat {
	var st C.zku_stat
	C.zku_cas_stat(x.h, &st, nil)
	return statFrom(&st)
}

// Version is the version the next commit expects (-1: it creates the node).
func (x *CAS) Version() int32 { return int32(C.zku_cas_version(x.h)) }

// Attempts is the number of reads made by this handle, the first included.
func (x *CAS) Attempts() uint32 { return uint32(C.zku_cas_attempts(x.h)) }

// Commit writes data if the node still has the version of the last read
// (or creates it). ErrBadVersion: a conflict, call Reread. ErrUnknown: the
// write may or may not have been applied, call Resolve.
func (x *CAS) Commit(ctx context.Context, data []byte) (Stat, error) {
	if x.h == nil {
		return Stat{}, closedError("CAS handle")
	}
	o, err := start(ctx, noLimit)
	if err != nil {
		return Stat{}, err
	}
	defer o.end()
	d, n := bytesArg(data)
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_cas_commit(x.h, d, n, o.timeout, o.cancel, &st, &cerr); rc != 0 {
		return Stat{}, o.fail(rc, cerr)
	}
	return statFrom(&st), nil
}

// Reread reads the node again after ErrBadVersion (forgetting a write of
// unknown outcome).
func (x *CAS) Reread(ctx context.Context) error {
	if x.h == nil {
		return closedError("CAS handle")
	}
	o, err := start(ctx, noLimit)
	if err != nil {
		return err
	}
	defer o.end()
	var cerr *C.zku_error
	if rc := C.zku_cas_reread(x.h, o.timeout, o.cancel, &cerr); rc != 0 {
		return o.fail(rc, cerr)
	}
	return nil
}

// Resolve finds out, after ErrUnknown from Commit, whether the write was
// applied: nil when it now is (exactly once), ErrBadVersion when it
// certainly was not, ErrUnknown when it still cannot be known.
func (x *CAS) Resolve(ctx context.Context) (Stat, error) {
	if x.h == nil {
		return Stat{}, closedError("CAS handle")
	}
	o, err := start(ctx, noLimit)
	if err != nil {
		return Stat{}, err
	}
	defer o.end()
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_cas_resolve(x.h, o.timeout, o.cancel, &st, &cerr); rc != 0 {
		return Stat{}, o.fail(rc, cerr)
	}
	return statFrom(&st), nil
}
