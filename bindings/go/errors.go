package zkutil

/*
#include <zkutil.h>
*/
import "C"

import (
	"context"
	"fmt"
)

// Code is a library result code (ZKU_E*). Every code is an error, so
// errors.Is(err, ErrNoNode) matches an *Error with that code.
type Code int32

// Error gives the library's description of the code.
func (c Code) Error() string { return C.GoString(C.zku_strerror(C.zku_rc(c))) }

// String gives the code's C name, e.g. "ZKU_ENONODE".
func (c Code) String() string {
	for _, k := range codes {
		if k.code == c {
			return k.cName
		}
	}
	return fmt.Sprintf("Code(%d)", int32(c))
}

// Error is a failed call: the library's code and its message naming the
// argument, path or server reply involved.
type Error struct {
	Code    Code
	Message string
	// cause: the context's error, a user func's error or *PanicError.
	cause error
}

func (e *Error) Error() string { return "zkutil: " + e.Message }

// Is reports whether target is this error's code.
func (e *Error) Is(target error) bool {
	c, ok := target.(Code)
	return ok && c == e.Code
}

// Unwrap gives what caused the error outside the library, if anything:
// the context's error, the error a user func returned, or a *PanicError.
func (e *Error) Unwrap() error { return e.cause }

// PanicError is a panic in a user func, recovered before it could reach
// the library's frames. The call that ran the func returns it (wrapped in
// an *Error with ErrAborted); a panic in an asynchronous callback (state
// changes, reader events) is returned by Close of the handle it was set on.
type PanicError struct {
	Value any
}

func (p *PanicError) Error() string { return fmt.Sprintf("zkutil: user func panicked: %v", p.Value) }

// errorFrom takes a failed call's code and error object (freed here).
func errorFrom(rc C.zku_rc, cerr *C.zku_error) *Error {
	e := &Error{Code: Code(rc)}
	if cerr != nil {
		e.Message = C.GoString(C.zku_error_message(cerr))
		C.zku_error_free(cerr)
	}
	if e.Message == "" {
		e.Message = e.Code.Error()
	}
	return e
}

// contextError is the error of a call not made because ctx was done.
func contextError(err error) *Error {
	code := ErrCancelled
	if err == context.DeadlineExceeded {
		code = ErrTimeout
	}
	return &Error{Code: code, Message: "not started: " + err.Error(), cause: err}
}

// closedError is the error of a call on a closed handle.
func closedError(what string) *Error {
	return &Error{Code: ErrClosed, Message: what + " is closed"}
}

// aborted is the error of a call whose user func failed or panicked.
func aborted(what string, cause error) *Error {
	return &Error{Code: ErrAborted, Message: what + ": " + cause.Error(), cause: cause}
}
