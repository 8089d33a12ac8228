package zkutil

// The exported trampolines the library calls (registered by shim.go).
// None lets a panic unwind into the library's frames.

/*
#include <zkutil.h>
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

func handleValue(ud unsafe.Pointer) any { return cgo.Handle(uintptr(ud)).Value() }

//export goZkuStateFn
func goZkuStateFn(ud unsafe.Pointer, oldState, newState C.zku_state) {
	handleValue(ud).(*sink[StateChange]).deliver(StateChange{State(oldState), State(newState)})
}

//export goZkuLockStateFn
func goZkuLockStateFn(ud unsafe.Pointer, oldState, newState C.zku_lock_state) {
	handleValue(ud).(*sink[LockStateChange]).deliver(LockStateChange{LockState(oldState), LockState(newState)})
}

//export goZkuRegistrationStateFn
func goZkuRegistrationStateFn(ud unsafe.Pointer, oldState, newState C.zku_registration_state) {
	handleValue(ud).(*sink[RegistrationStateChange]).deliver(RegistrationStateChange{RegistrationState(oldState), RegistrationState(newState)})
}

//export goZkuReaderFn
func goZkuReaderFn(ud unsafe.Pointer, event C.int32_t, path, oldJSON, newJSON *C.char, stat *C.zku_stat) {
	ev := ReaderEvent{Kind: ReaderEventKind(event), Path: C.GoString(path), Old: C.GoString(oldJSON), New: C.GoString(newJSON)}
	if stat != nil {
		ev.Stat = statFrom(stat)
	}
	handleValue(ud).(*sink[ReaderEvent]).deliver(ev)
}

//export goZkuCasFn
func goZkuCasFn(ud unsafe.Pointer, value *C.uint8_t, n C.size_t, stat *C.zku_stat, next *C.zku_cas_next) C.int32_t {
	return handleValue(ud).(*casRun).call(value, n, stat, next)
}

//export goZkuHolderFn
func goZkuHolderFn(ud unsafe.Pointer, holder *C.char, n C.size_t, version C.int32_t) C.int {
	if handleValue(ud).(*holderRun).call(C.GoBytes(unsafe.Pointer(holder), C.int(n)), int32(version)) {
		return 1
	}
	return 0
}

//export goZkuLogFn
func goZkuLogFn(ud unsafe.Pointer, level C.zku_log_level, message *C.char) {
	handleValue(ud).(*sink[LogMessage]).deliver(LogMessage{LogLevel(level), C.GoString(message)})
}

//export goZkuFreeHandle
func goZkuFreeHandle(ud unsafe.Pointer) {
	h := cgo.Handle(uintptr(ud))
	if f, ok := h.Value().(finisher); ok {
		f.finish()
	}
	h.Delete()
}
