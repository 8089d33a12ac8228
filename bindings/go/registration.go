package zkutil

/*
#include <stdint.h>
#include <stdlib.h>
#include <zkutil.h>

zku_rc go_zku_registration_set_state_callback(const zku_registration *registration, uintptr_t h, zku_error **err);
*/
import "C"

import (
	"context"
	"sync"
	"time"
	"unsafe"
)

// Registration keeps one node present (ephemeral unless
// RegistrationPersistent) while it lives, creating it again after it is
// deleted or its session expired (docs/registration.md). Safe to use from
// several goroutines.
type Registration struct {
	mu      sync.RWMutex // held for reading by every call, for writing by Close
	r       *C.zku_registration
	closeMu sync.Mutex
	states  stateSink[RegistrationStateChange]
}

// RegistrationStateChange is a registration state transition.
type RegistrationStateChange struct {
	Old, New RegistrationState
}

// RegistrationOptions are the optional parts of a registration.
type RegistrationOptions struct {
	// Flags: RegistrationPersistent, RegistrationSequential (the path is
	// then the name prefix, e.g. "/services/api/member-").
	Flags RegistrationFlag
	// TTL (with RegistrationPersistent): the server deletes the node after
	// that long without changes or children; needs the server's
	// zookeeper.extendedTypesEnabled.
	TTL time.Duration
}

// Register keeps a node at path holding data, creating missing parents,
// with the client's default ACL (the client must stay open while it is
// used). It waits for the first creation until ctx ends, then returns the
// handle either way: RegistrationPresent, or RegistrationAbsent when no
// connection came in time or a node this handle did not create is at the
// path (never deleted or overwritten; ours is created once it is gone).
// opts may be nil.
func (c *Client) Register(ctx context.Context, path string, data []byte, opts *RegistrationOptions) (*Registration, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.end(&o)
	var flags C.uint32_t
	var ttl C.int64_t
	if opts != nil {
		flags, ttl = C.uint32_t(opts.Flags), C.int64_t(opts.TTL.Milliseconds())
	}
	p := C.CString(path)
	defer freeString(p)
	d, n := bytesArg(data)
	var r *C.zku_registration
	var cerr *C.zku_error
	if rc := C.zku_registration_new(cl, p, d, n, flags, ttl, o.timeout, o.cancel, &r, &cerr); rc != 0 {
		return nil, o.fail(rc, cerr)
	}
	return &Registration{r: r}, nil
}

func (r *Registration) use() (*C.zku_registration, error) {
	r.mu.RLock()
	if r.r == nil {
		r.mu.RUnlock()
		return nil, closedError("registration")
	}
	return r.r, nil
}

// Close stops keeping the node and deletes it if it is still ours,
// waiting for the delete until ctx ends (ErrTimeout: not confirmed in
// time, it goes on in the background until the session timeout), then
// frees the handle and closes the States channel. It returns that error,
// else the first panic of the state callback, if any.
func (r *Registration) Close(ctx context.Context) error {
	r.closeMu.Lock()
	defer r.closeMu.Unlock()
	cr, err := r.use()
	if err != nil {
		return nil // closed already
	}
	o, err := start(ctx, noLimit)
	if err == nil {
		var cerr *C.zku_error
		if rc := C.zku_registration_close(cr, o.timeout, o.cancel, &cerr); rc != 0 {
			err = o.fail(rc, cerr)
		}
		o.end()
	}
	r.mu.RUnlock()
	r.mu.Lock() // waits for calls in progress; later ones fail with ErrClosed
	r.r = nil
	r.mu.Unlock()
	C.zku_registration_free(cr) // outside r.mu: the state callback may use the handle
	if err == nil {
		err = r.states.err()
	}
	return err
}

// State is the registration's state (RegistrationClosed once closed).
func (r *Registration) State() RegistrationState {
	cr, err := r.use()
	if err != nil {
		return RegistrationClosed
	}
	defer r.mu.RUnlock()
	return RegistrationState(C.zku_registration_get_state(cr))
}

// Path is the path of the node kept (or kept last): the path given, or
// for a sequential node the name the server gave, new after every
// re-creation (ErrNoNode before the first).
func (r *Registration) Path() (string, error) {
	cr, err := r.use()
	if err != nil {
		return "", err
	}
	defer r.mu.RUnlock()
	var p *C.char
	var cerr *C.zku_error
	if rc := C.zku_registration_path(cr, &p, &cerr); rc != 0 {
		return "", errorFrom(rc, cerr)
	}
	return takeString(p), nil
}

// AbsentReason says why the node is absent, while RegistrationAbsent (""
// otherwise).
func (r *Registration) AbsentReason() string {
	cr, err := r.use()
	if err != nil {
		return ""
	}
	defer r.mu.RUnlock()
	return takeString(C.zku_registration_absent_reason(cr))
}

// SetData replaces the node's data (and that of every later
// re-creation). While the node is present it waits for the write until
// ctx ends (ErrTimeout: it goes on in the background); while absent it
// returns at once.
func (r *Registration) SetData(ctx context.Context, data []byte) error {
	cr, err := r.use()
	if err != nil {
		return err
	}
	defer r.mu.RUnlock()
	o, err := start(ctx, noLimit)
	if err != nil {
		return err
	}
	defer o.end()
	d, n := bytesArg(data)
	var cerr *C.zku_error
	if rc := C.zku_registration_set_data(cr, d, n, o.timeout, o.cancel, &cerr); rc != 0 {
		return o.fail(rc, cerr)
	}
	return nil
}

// OnState sets the func called on every state change (nil: none), in
// order, on a library thread. A panic in it is recovered and returned by
// Close.
func (r *Registration) OnState(fn func(old, new RegistrationState)) error {
	s, err := r.stateSink()
	if err != nil {
		return err
	}
	if fn == nil {
		s.setFunc(nil)
	} else {
		s.setFunc(func(ch RegistrationStateChange) { fn(ch.Old, ch.New) })
	}
	return nil
}

// States gives a channel of state changes (the same one on every call),
// closed by Close. It is buffered: a reader that falls behind loses the
// oldest changes, never the latest.
func (r *Registration) States() (<-chan RegistrationStateChange, error) {
	s, err := r.stateSink()
	if err != nil {
		return nil, err
	}
	return s.ch, nil
}

func (r *Registration) stateSink() (*sink[RegistrationStateChange], error) {
	return r.states.get(func(h C.uintptr_t) error {
		cr, err := r.use()
		if err != nil {
			return err
		}
		defer r.mu.RUnlock()
		var cerr *C.zku_error
		if rc := C.go_zku_registration_set_state_callback(cr, h, &cerr); rc != 0 {
			return errorFrom(rc, cerr)
		}
		return nil
	})
}

// FD is a descriptor that becomes readable on every state change (and
// once right after its creation), for poll or epoll; call FDDrain when it
// is. It belongs to the handle (closed by Close): do not read, write or
// close it.
func (r *Registration) FD() (int, error) {
	cr, err := r.use()
	if err != nil {
		return -1, err
	}
	defer r.mu.RUnlock()
	return descriptor(func(fd *C.int, cerr **C.zku_error) C.zku_rc { return C.zku_registration_fd(cr, fd, cerr) })
}

// FDDrain empties the descriptor of FD and returns the current state.
func (r *Registration) FDDrain() RegistrationState {
	cr, err := r.use()
	if err != nil {
		return RegistrationClosed
	}
	defer r.mu.RUnlock()
	return RegistrationState(C.zku_registration_fd_drain(cr))
}

// Member is one child of a parent, as Members lists it.
type Member struct {
	Name string // the child's name (not its path)
	Data []byte
}

// Members lists the children of parent with their data, sorted by name
// (a child deleted while being read is left out); ErrNoNode without the
// parent.
func (c *Client) Members(ctx context.Context, parent string) ([]Member, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer c.end(&o)
	p := C.CString(parent)
	defer freeString(p)
	var m *C.zku_members
	var cerr *C.zku_error
	if rc := C.zku_members_list(cl, p, o.timeout, o.cancel, &m, &cerr); rc != 0 {
		return nil, o.fail(rc, cerr)
	}
	defer C.zku_members_free(m)
	out := make([]Member, int(C.zku_members_len(m)))
	for i := range out {
		var n C.size_t
		d := C.zku_members_data(m, C.size_t(i), &n)
		out[i] = Member{Name: C.GoString(C.zku_members_name(m, C.size_t(i))), Data: C.GoBytes(unsafe.Pointer(d), C.int(n))}
	}
	return out, nil
}
