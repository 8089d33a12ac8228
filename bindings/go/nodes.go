package zkutil

/*
#include <stdlib.h>
#include <zkutil.h>
*/
import "C"

import (
	"context"
	"sync"
	"time"
	"unsafe"
)

// CreateOptions are the optional parts of Client.Create.
type CreateOptions struct {
	Flags CreateFlag    // CreateEphemeral, CreateSequential, CreateContainer, CreateParents
	TTL   time.Duration // > 0: a persistent node expiring after that long unchanged and childless
	ACL   ACL           // nil: the configured default ACL (world:anyone:cdrwa when none)
}

// Create creates a node at the absolute path with data; opts may be nil
// (persistent, default ACL). It returns the created path (with the
// sequence number) and the new node's stat.
func (c *Client) Create(ctx context.Context, path string, data []byte, opts *CreateOptions) (string, Stat, error) {
	if opts == nil {
		opts = &CreateOptions{}
	}
	acl, err := opts.ACL.build()
	if err != nil {
		return "", Stat{}, err
	}
	defer C.zku_acl_list_free(acl)
	cl, o, err := c.begin(ctx)
	if err != nil {
		return "", Stat{}, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	d, n := bytesArg(data)
	var created *C.char
	var st C.zku_stat
	var cerr *C.zku_error
	rc := C.zku_client_create(cl, p, d, n, C.uint32_t(opts.Flags), C.int64_t(opts.TTL.Milliseconds()), acl, o.timeout, o.cancel, &created, &st, &cerr)
	if rc != 0 {
		return "", Stat{}, o.fail(rc, cerr)
	}
	return takeString(created), statFrom(&st), nil
}

// CreateJSON is Create with a JSON text value, checked before sending
// (ErrJSON).
func (c *Client) CreateJSON(ctx context.Context, path, json string, opts *CreateOptions) (string, Stat, error) {
	if opts == nil {
		opts = &CreateOptions{}
	}
	acl, err := opts.ACL.build()
	if err != nil {
		return "", Stat{}, err
	}
	defer C.zku_acl_list_free(acl)
	cl, o, err := c.begin(ctx)
	if err != nil {
		return "", Stat{}, err
	}
	defer c.end(&o)
	p, j := C.CString(path), C.CString(json)
	defer freeString(p)
	defer freeString(j)
	var created *C.char
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_client_create_json(cl, p, j, C.uint32_t(opts.Flags), acl, o.timeout, o.cancel, &created, &st, &cerr); rc != 0 {
		return "", Stat{}, o.fail(rc, cerr)
	}
	return takeString(created), statFrom(&st), nil
}

// Get reads a node's data and stat.
func (c *Client) Get(ctx context.Context, path string) ([]byte, Stat, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return nil, Stat{}, err
	}
	defer c.end(&o)
	p := pathArg(path)
	s := getScratches.Get().(*getScratch)
	defer getScratches.Put(s)
	rc := C.zku_client_get_into(cl, p, o.timeout, o.cancel, (*C.uint8_t)(unsafe.Pointer(&s.data[0])),
		C.size_t(len(s.data)), &s.n, &s.overflow, &s.st, &s.cerr)
	if rc != 0 {
		cerr := s.cerr
		s.cerr = nil
		return nil, Stat{}, o.fail(rc, cerr)
	}
	if s.overflow != nil { // larger than the scratch buffer
		b := s.overflow
		s.overflow = nil
		return takeBuf(b), statFrom(&s.st), nil
	}
	data := make([]byte, s.n)
	copy(data, s.data[:])
	return data, statFrom(&s.st), nil
}

// getScratch is where Get has the library write: one cgo call, nothing
// allocated in the library for data up to 4 KiB. It holds no Go pointer,
// so C may write it.
type getScratch struct {
	data     [4096]byte
	n        C.size_t
	overflow *C.zku_buf
	st       C.zku_stat
	cerr     *C.zku_error
}

var getScratches = sync.Pool{New: func() any { return new(getScratch) }}

// GetJSON reads a node whose data must be UTF-8 JSON text (ErrJSON).
func (c *Client) GetJSON(ctx context.Context, path string) (string, Stat, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return "", Stat{}, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var json *C.char
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_client_get_json(cl, p, o.timeout, o.cancel, &json, &st, &cerr); rc != 0 {
		return "", Stat{}, o.fail(rc, cerr)
	}
	return takeString(json), statFrom(&st), nil
}

// Set replaces a node's data if its version is version (AnyVersion: any)
// and returns the new stat. On ErrTimeout, ErrConnectionLoss or
// ErrUnknown the write may or may not have been applied.
func (c *Client) Set(ctx context.Context, path string, data []byte, version int32) (Stat, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return Stat{}, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	d, n := bytesArg(data)
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_client_set(cl, p, d, n, C.int32_t(version), o.timeout, o.cancel, &st, &cerr); rc != 0 {
		return Stat{}, o.fail(rc, cerr)
	}
	return statFrom(&st), nil
}

// SetJSON is Set with a JSON text value, checked before sending.
func (c *Client) SetJSON(ctx context.Context, path, json string, version int32) (Stat, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return Stat{}, err
	}
	defer c.end(&o)
	p, j := C.CString(path), C.CString(json)
	defer freeString(p)
	defer freeString(j)
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_client_set_json(cl, p, j, C.int32_t(version), o.timeout, o.cancel, &st, &cerr); rc != 0 {
		return Stat{}, o.fail(rc, cerr)
	}
	return statFrom(&st), nil
}

// Delete deletes a node if its version is version (AnyVersion: any).
func (c *Client) Delete(ctx context.Context, path string, version int32) error {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var cerr *C.zku_error
	if rc := C.zku_client_delete(cl, p, C.int32_t(version), o.timeout, o.cancel, &cerr); rc != 0 {
		return o.fail(rc, cerr)
	}
	return nil
}

// Exists tells whether the node exists, and its stat when it does.
func (c *Client) Exists(ctx context.Context, path string) (bool, Stat, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return false, Stat{}, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var exists C.bool
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_client_exists(cl, p, o.timeout, o.cancel, &exists, &st, &cerr); rc != 0 {
		return false, Stat{}, o.fail(rc, cerr)
	}
	if !exists {
		return false, Stat{}, nil
	}
	return true, statFrom(&st), nil
}

// Children lists a node's children names (in the server's order) and
// gives its stat.
func (c *Client) Children(ctx context.Context, path string) ([]string, Stat, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return nil, Stat{}, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var list *C.zku_strings
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_client_children(cl, p, o.timeout, o.cancel, &list, &st, &cerr); rc != 0 {
		return nil, Stat{}, o.fail(rc, cerr)
	}
	return takeStrings(list), statFrom(&st), nil
}

// GetACL reads a node's ACL and stat.
func (c *Client) GetACL(ctx context.Context, path string) (ACL, Stat, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return nil, Stat{}, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var list *C.zku_acl_list
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_client_get_acl(cl, p, o.timeout, o.cancel, &list, &st, &cerr); rc != 0 {
		return nil, Stat{}, o.fail(rc, cerr)
	}
	defer C.zku_acl_list_free(list)
	return aclFrom(list), statFrom(&st), nil
}

// SetACL replaces a node's ACL if its ACL version is aversion
// (AnyVersion: any) and returns the new stat.
func (c *Client) SetACL(ctx context.Context, path string, acl ACL, aversion int32) (Stat, error) {
	list, err := acl.build()
	if err != nil {
		return Stat{}, err
	}
	defer C.zku_acl_list_free(list)
	if list == nil {
		return Stat{}, &Error{Code: ErrInvalidACL, Message: "SetACL: empty ACL"}
	}
	cl, o, err := c.begin(ctx)
	if err != nil {
		return Stat{}, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_client_set_acl(cl, p, list, C.int32_t(aversion), o.timeout, o.cancel, &st, &cerr); rc != 0 {
		return Stat{}, o.fail(rc, cerr)
	}
	return statFrom(&st), nil
}

// GetNext waits until the node has a version greater than version (-1:
// until it exists) and returns its data and stat. With waitCreate a
// missing node is waited for instead of failing with ErrNoNode.
func (c *Client) GetNext(ctx context.Context, path string, version int32, waitCreate bool) ([]byte, Stat, error) {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return nil, Stat{}, err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var flags WaitFlag
	if waitCreate {
		flags = WaitCreate
	}
	var buf *C.zku_buf
	var st C.zku_stat
	var cerr *C.zku_error
	if rc := C.zku_get_next(cl, p, C.int32_t(version), C.uint32_t(flags), o.timeout, o.cancel, &buf, &st, &cerr); rc != 0 {
		return nil, Stat{}, o.fail(rc, cerr)
	}
	return takeBuf(buf), statFrom(&st), nil
}

// WaitAbsent waits until no node exists at path (returns at once if none
// does).
func (c *Client) WaitAbsent(ctx context.Context, path string) error {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer c.end(&o)
	p := C.CString(path)
	defer freeString(p)
	var cerr *C.zku_error
	if rc := C.zku_wait_absent(cl, p, o.timeout, o.cancel, &cerr); rc != 0 {
		return o.fail(rc, cerr)
	}
	return nil
}
