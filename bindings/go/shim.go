package zkutil

// The C side of callbacks: wrappers that register the exported Go
// trampolines (callbacks.go) with a cgo.Handle as user_data, so no Go
// pointer is ever held by C.

/*
#include <stdint.h>
#include <zkutil.h>

extern void goZkuStateFn(void *, zku_state, zku_state);
extern void goZkuLockStateFn(void *, zku_lock_state, zku_lock_state);
extern void goZkuRegistrationStateFn(void *, zku_registration_state, zku_registration_state);
extern void goZkuReaderFn(void *, int32_t, const char *, const char *, const char *, const zku_stat *);
extern int32_t goZkuCasFn(void *, const uint8_t *, size_t, const zku_stat *, zku_cas_next *);
extern int goZkuHolderFn(void *, const char *, size_t, int32_t);
extern void goZkuLogFn(void *, zku_log_level, const char *);
extern void goZkuFreeHandle(void *);

zku_rc go_zku_client_set_state_callback(const zku_client *client, uintptr_t h, zku_error **err) {
	return zku_client_set_state_callback(client, goZkuStateFn, (void *)h, goZkuFreeHandle, err);
}

zku_rc go_zku_lock_set_state_callback(const zku_lock *lock, uintptr_t h, zku_error **err) {
	return zku_lock_set_state_callback(lock, goZkuLockStateFn, (void *)h, goZkuFreeHandle, err);
}

zku_rc go_zku_fifo_set_state_callback(const zku_fifo *fifo, uintptr_t h, zku_error **err) {
	return zku_fifo_set_state_callback(fifo, goZkuLockStateFn, (void *)h, goZkuFreeHandle, err);
}

zku_rc go_zku_registration_set_state_callback(const zku_registration *registration, uintptr_t h, zku_error **err) {
	return zku_registration_set_state_callback(registration, goZkuRegistrationStateFn, (void *)h, goZkuFreeHandle, err);
}

zku_rc go_zku_set_log_callback(zku_log_level level, uintptr_t h, zku_error **err) {
	return zku_set_log_callback(level, goZkuLogFn, (void *)h, goZkuFreeHandle, err);
}

zku_rc go_zku_lock_new_with_config(const zku_config *config, const char *name, const char *identifier,
		uint32_t flags, int32_t default_timeout_ms, uintptr_t h, const zku_cancel *cancel,
		zku_lock **out, zku_error **err) {
	return zku_lock_new_with_config(config, name, identifier, flags, default_timeout_ms,
		goZkuLockStateFn, (void *)h, goZkuFreeHandle, cancel, out, err);
}

zku_rc go_zku_reader_new(const zku_client *client, const char *path, uintptr_t h, int32_t timeout_ms,
		const zku_cancel *cancel, zku_reader **out, zku_error **err) {
	return zku_reader_new(client, path, goZkuReaderFn, (void *)h, goZkuFreeHandle, timeout_ms, cancel, out, err);
}

zku_rc go_zku_cas_update(const zku_client *client, const char *path, uint32_t flags,
		const uint8_t *initial, size_t initial_len, uintptr_t h, uint32_t max_attempts, int32_t timeout_ms,
		const zku_cancel *cancel, zku_stat *stat, uint32_t *attempts, zku_error **err) {
	return zku_cas_update(client, path, flags, initial, initial_len, goZkuCasFn, (void *)h, max_attempts,
		timeout_ms, cancel, stat, attempts, err);
}

zku_rc go_zku_lock_acquire_loop(const zku_lock *lock, int32_t timeout_ms, const zku_cancel *cancel,
		uintptr_t h, int64_t *token, zku_error **err) {
	return zku_lock_acquire_loop(lock, timeout_ms, cancel, goZkuHolderFn, (void *)h, token, err);
}
*/
import "C"

import (
	"runtime/cgo"
	"sync"
)

// sink carries asynchronous callbacks (state changes, reader events) from
// library threads to a user func and to a channel. The channel is
// buffered: when its reader falls behind, the oldest values are dropped so
// the newest always arrives. It is closed after the last callback.
type sink[T any] struct {
	mu       sync.Mutex
	fn       func(T)
	ch       chan T
	panicked error
}

func newSink[T any](buffer int) *sink[T] { return &sink[T]{ch: make(chan T, buffer)} }

func (s *sink[T]) setFunc(fn func(T)) {
	s.mu.Lock()
	s.fn = fn
	s.mu.Unlock()
}

// deliver runs on the library's callback thread, one call at a time.
func (s *sink[T]) deliver(v T) {
	s.mu.Lock()
	fn := s.fn
	s.mu.Unlock()
	if fn != nil {
		s.run(fn, v)
	}
	for {
		select {
		case s.ch <- v:
			return
		default:
		}
		select {
		case <-s.ch:
		default:
		}
	}
}

func (s *sink[T]) run(fn func(T), v T) {
	defer func() {
		if r := recover(); r != nil {
			s.mu.Lock()
			if s.panicked == nil {
				s.panicked = &PanicError{Value: r}
			}
			s.mu.Unlock()
		}
	}()
	fn(v)
}

// finish runs once, after the last callback (the library's user_data_free).
func (s *sink[T]) finish() { close(s.ch) }

// err is the first panic of the user func, if any.
func (s *sink[T]) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.panicked
}

// finisher is what a handle's value may do when the library frees it.
type finisher interface{ finish() }

func newHandle(v any) C.uintptr_t { return C.uintptr_t(cgo.NewHandle(v)) }
