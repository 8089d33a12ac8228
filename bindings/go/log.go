package zkutil

/*
#include <stdint.h>
#include <zkutil.h>

zku_rc go_zku_set_log_callback(zku_log_level level, uintptr_t h, zku_error **err);
*/
import "C"

import (
	"runtime/cgo"
	"sync"
)

// LogMessage is one message of the library's log.
type LogMessage struct {
	Level   LogLevel
	Message string // one line naming the session, lock or reader it is about
}

var (
	logMu  sync.Mutex
	logged *sink[LogMessage] // the func set by SetLogger, nil when none
)

// SetLogger sends the library's log messages at level and above to fn,
// on a library thread, one call at a time, in order (nil: none; messages
// then go to stderr as the ZKU_LOG environment variable says). It is per
// process and replaces the previous func, which is not called again once
// this returns. A panic in fn is recovered and returned by the SetLogger
// call that replaces it. ErrInval for a level that is not a Log* constant.
func SetLogger(level LogLevel, fn func(LogMessage)) error {
	logMu.Lock()
	defer logMu.Unlock()
	var cerr *C.zku_error
	var next *sink[LogMessage]
	if fn == nil {
		if rc := C.zku_set_log_callback(C.zku_log_level(level), nil, nil, nil, &cerr); rc != 0 {
			return errorFrom(rc, cerr)
		}
	} else {
		// Only fn is used: the channel (never read) holds the last message.
		next = newSink[LogMessage](1)
		next.setFunc(fn)
		h := newHandle(next)
		if rc := C.go_zku_set_log_callback(C.zku_log_level(level), h, &cerr); rc != 0 {
			cgo.Handle(h).Delete()
			return errorFrom(rc, cerr)
		}
	}
	prev := logged
	logged = next
	if prev != nil {
		return prev.err()
	}
	return nil
}
