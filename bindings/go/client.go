package zkutil

/*
#include <stdint.h>
#include <zkutil.h>

zku_rc go_zku_client_set_state_callback(const zku_client *client, uintptr_t h, zku_error **err);
*/
import "C"

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Client is a ZooKeeper session, safe to use from many goroutines. Close
// it when done; it does not survive fork.
type Client struct {
	mu      sync.RWMutex // held for reading by every call, for writing by Close
	c       *C.zku_client
	closeMu sync.Mutex
	states  stateSink[StateChange]
}

// StateChange is a session state transition.
type StateChange struct {
	Old, New State
}

// noLimit is timeout_ms for a context without a deadline: wait as long as
// the context is not cancelled.
const noLimit = -1

// Connect opens a session from cfg and waits for it, at most the
// configured connect timeout (or ctx's deadline, when sooner).
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	conf, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer C.zku_config_free(conf)
	if d, ok := ctx.Deadline(); ok && (cfg.ConnectTimeout == 0 || time.Until(d) < cfg.ConnectTimeout) {
		var cerr *C.zku_error
		if rc := C.zku_config_set_connect_timeout_ms(conf, C.int64_t(max64(time.Until(d).Milliseconds(), 1)), &cerr); rc != 0 {
			return nil, errorFrom(rc, cerr)
		}
	}
	o, err := start(ctx, noLimit)
	if err != nil {
		return nil, err
	}
	defer o.end()
	var cl *C.zku_client
	var cerr *C.zku_error
	if rc := C.zku_client_new(conf, o.cancel, &cl, &cerr); rc != 0 {
		return nil, o.fail(rc, cerr)
	}
	return &Client{c: cl}, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// use gives the C client for one call, holding c.mu for reading; the
// caller releases it with c.mu.RUnlock.
func (c *Client) use() (*C.zku_client, error) {
	c.mu.RLock()
	if c.c == nil {
		c.mu.RUnlock()
		return nil, closedError("client")
	}
	return c.c, nil
}

// begin starts a blocking call under ctx, holding c.mu for reading until
// end.
func (c *Client) begin(ctx context.Context) (*C.zku_client, op, error) {
	cl, err := c.use()
	if err != nil {
		return nil, op{}, err
	}
	o, err := start(ctx, noLimit)
	if err != nil {
		c.mu.RUnlock()
		return nil, op{}, err
	}
	return cl, o, nil
}

func (c *Client) end(o *op) {
	o.end()
	c.mu.RUnlock()
}

// Close ends the session at once (its ephemeral nodes vanish now), makes
// calls blocked on it (and on its locks, readers, CAS handles) return
// ErrClosed, and frees the client. It waits for the server's confirmation
// at most the session timeout and 5 s, and for a running state callback
// to return. It returns the close error, else the first panic of the
// state callback. Later calls return ErrClosed; closing again is a no-op.
func (c *Client) Close() error {
	return c.CloseContext(context.Background())
}

// CloseContext is Close, waiting for the server's confirmation until ctx's
// deadline (without one, as Close) or its cancellation: then it returns
// ErrTimeout or ErrCancelled, also matching the context's error. The
// session is closed and the client freed in every case; with ctx already
// done, it does not wait for the confirmation at all (and returns that
// error).
func (c *Client) CloseContext(ctx context.Context) error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	c.mu.RLock()
	cl := c.c
	c.mu.RUnlock()
	if cl == nil {
		return nil
	}
	wait := C.zku_client_session_timeout_ms(cl)
	if wait <= 0 || wait > 5000 {
		wait = 5000
	}
	o, err := start(ctx, C.int32_t(wait))
	var e *Error
	if errors.As(err, &e) {
		// ctx is done: close all the same, without waiting.
		o = op{ctx: ctx}
		e.Message = "close: not waiting for the server's confirmation: " + e.cause.Error()
	}
	var cerr *C.zku_error
	if rc := C.zku_client_close(cl, o.timeout, o.cancel, &cerr); rc != 0 {
		err = o.fail(rc, cerr)
	}
	o.end()
	c.mu.Lock() // waits for calls in progress; later ones fail with ErrClosed
	c.c = nil
	c.mu.Unlock()
	C.zku_client_free(cl) // outside c.mu: the state callback may use the client
	if err == nil {
		err = c.states.err()
	}
	return err
}

// SessionID is the session id (0 once closed).
func (c *Client) SessionID() int64 {
	cl, err := c.use()
	if err != nil {
		return 0
	}
	defer c.mu.RUnlock()
	return int64(C.zku_client_session_id(cl))
}

// SessionTimeout is the session timeout the server granted.
func (c *Client) SessionTimeout() time.Duration {
	cl, err := c.use()
	if err != nil {
		return 0
	}
	defer c.mu.RUnlock()
	return time.Duration(C.zku_client_session_timeout_ms(cl)) * time.Millisecond
}

// State is the current session state (StateClosed once closed).
func (c *Client) State() State {
	cl, err := c.use()
	if err != nil {
		return StateClosed
	}
	defer c.mu.RUnlock()
	return State(C.zku_client_state(cl))
}

// OnState sets the func called on every session state change (nil: none),
// on a library thread, one call at a time. It may use the client. A panic
// in it is recovered and returned by Close.
func (c *Client) OnState(fn func(old, new State)) error {
	s, err := c.stateSink()
	if err != nil {
		return err
	}
	if fn == nil {
		s.setFunc(nil)
	} else {
		s.setFunc(func(ch StateChange) { fn(ch.Old, ch.New) })
	}
	return nil
}

// States gives a channel of session state changes (the same one on every
// call), closed by Close. It is buffered: a reader that falls behind
// loses the oldest changes, never the latest.
func (c *Client) States() (<-chan StateChange, error) {
	s, err := c.stateSink()
	if err != nil {
		return nil, err
	}
	return s.ch, nil
}

// stateSink registers the client's state callback on first use.
func (c *Client) stateSink() (*sink[StateChange], error) {
	return c.states.get(func(h C.uintptr_t) error {
		cl, err := c.use()
		if err != nil {
			return err
		}
		defer c.mu.RUnlock()
		var cerr *C.zku_error
		if rc := C.go_zku_client_set_state_callback(cl, h, &cerr); rc != 0 {
			return errorFrom(rc, cerr)
		}
		return nil
	})
}

// AddAuth adds credentials to the session, e.g. "digest" with
// []byte("user:password"); kept across reconnects. A refused credential
// ends the session (ErrAuthFailed).
func (c *Client) AddAuth(ctx context.Context, scheme string, auth []byte) error {
	cl, o, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer c.end(&o)
	s := C.CString(scheme)
	defer freeString(s)
	data, n := bytesArg(auth)
	var cerr *C.zku_error
	if rc := C.zku_client_add_auth(cl, s, data, n, o.timeout, o.cancel, &cerr); rc != 0 {
		return o.fail(rc, cerr)
	}
	return nil
}

// FD is a descriptor that becomes readable on every session state change
// (and once right after its creation), for poll or epoll; call FDDrain
// when it is. It belongs to the client (closed by Close): do not read,
// write or close it.
func (c *Client) FD() (int, error) {
	cl, err := c.use()
	if err != nil {
		return -1, err
	}
	defer c.mu.RUnlock()
	return descriptor(func(fd *C.int, cerr **C.zku_error) C.zku_rc { return C.zku_client_fd(cl, fd, cerr) })
}

// FDDrain empties the descriptor of FD and returns the current state
// (StateClosed once closed).
func (c *Client) FDDrain() State {
	cl, err := c.use()
	if err != nil {
		return StateClosed
	}
	defer c.mu.RUnlock()
	return State(C.zku_client_fd_drain(cl))
}

// ClientStats is a snapshot of a client's counters, for a metrics
// system (see zku_client_stats in zkutil.h for what is counted). Counters
// only grow; fields ending in Now are current values.
type ClientStats struct {
	RequestsSent        uint64 // each attempt of a retried read counts
	RequestsInFlightNow uint64
	SlowReplies         uint64 // replies that took more than 1 s
	ErrorsNode          uint64 // no node, node exists, bad version, not empty, ...
	ErrorsPermission    uint64
	ErrorsConnection    uint64 // connection lost, or no reply in time
	ErrorsSession       uint64
	ErrorsOther         uint64
	Disconnects         uint64
	Reconnects          uint64
	SessionRenewals     uint64
	WatchesNow          uint64
	CallbacksWaitingNow uint64
}

// Stats is a snapshot of the client's counters; ErrClosed once closed.
func (c *Client) Stats() (ClientStats, error) {
	cl, err := c.use()
	if err != nil {
		return ClientStats{}, err
	}
	defer c.mu.RUnlock()
	var s C.zku_client_stats
	var cerr *C.zku_error
	if rc := C.zku_client_get_stats(cl, &s, &cerr); rc != 0 {
		return ClientStats{}, errorFrom(rc, cerr)
	}
	return ClientStats{
		RequestsSent: uint64(s.requests_sent), RequestsInFlightNow: uint64(s.requests_in_flight_now),
		SlowReplies: uint64(s.slow_replies), ErrorsNode: uint64(s.errors_node),
		ErrorsPermission: uint64(s.errors_permission), ErrorsConnection: uint64(s.errors_connection),
		ErrorsSession: uint64(s.errors_session), ErrorsOther: uint64(s.errors_other),
		Disconnects: uint64(s.disconnects), Reconnects: uint64(s.reconnects),
		SessionRenewals: uint64(s.session_renewals), WatchesNow: uint64(s.watches_now),
		CallbacksWaitingNow: uint64(s.callbacks_waiting_now),
	}, nil
}
