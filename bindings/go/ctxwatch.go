package zkutil

/*
#include <zkutil.h>
*/
import "C"

import (
	"context"
	"sync"
	"time"
)

// The context watcher: one goroutine, running while cancellable calls are
// in flight, looks at their contexts every watchPoll and cancels the
// zku_cancel of each call whose context is done; the library sees that
// within 5 ms, so a call returns within 50 ms of its context's
// cancellation. A call pays a map insert and delete under a mutex, with
// its zku_cancel taken from a few spares: no goroutine, timer or channel
// of its own (a timer per call woke Go's poller thread, costing µs per
// call: README, Go binding).

const (
	watchPoll = 5 * time.Millisecond
	// watchIdlePolls without a call in flight end the goroutine (1 s).
	watchIdlePolls = 200
	// spareCancels is how many unfired zku_cancel objects wait for reuse.
	spareCancels = 64
)

type watchedCall struct {
	ctx    context.Context
	cancel *C.zku_cancel
	fired  bool // cancelled by the watcher: never reused
}

var watcher struct {
	mu      sync.Mutex
	calls   map[uint64]watchedCall
	next    uint64
	running bool
	spare   []*C.zku_cancel
}

// watch registers a call under ctx (whose Done is not nil) and gives its
// id and the zku_cancel to pass to the C call; unwatch it after the call.
func watch(ctx context.Context) (uint64, *C.zku_cancel) {
	watcher.mu.Lock()
	defer watcher.mu.Unlock()
	var cancel *C.zku_cancel
	if n := len(watcher.spare); n > 0 {
		cancel, watcher.spare = watcher.spare[n-1], watcher.spare[:n-1]
	} else {
		C.zku_cancel_new(&cancel, nil)
	}
	if watcher.calls == nil {
		watcher.calls = make(map[uint64]watchedCall)
	}
	watcher.next++
	watcher.calls[watcher.next] = watchedCall{ctx: ctx, cancel: cancel}
	if !watcher.running {
		watcher.running = true
		go watchContexts()
	}
	return watcher.next, cancel
}

// unwatch ends the watch of a call: its zku_cancel goes back to the spares
// unless it was cancelled (sticky) or there are enough spares.
func unwatch(id uint64) {
	watcher.mu.Lock()
	call := watcher.calls[id]
	delete(watcher.calls, id)
	if !call.fired && len(watcher.spare) < spareCancels {
		watcher.spare = append(watcher.spare, call.cancel)
		call.cancel = nil
	}
	watcher.mu.Unlock()
	if call.cancel != nil {
		C.zku_cancel_free(call.cancel)
	}
}

func watchContexts() {
	idle := 0
	for {
		time.Sleep(watchPoll)
		watcher.mu.Lock()
		for id, call := range watcher.calls {
			if call.fired {
				continue
			}
			select {
			case <-call.ctx.Done():
				C.zku_cancel_cancel(call.cancel)
				call.fired = true
				watcher.calls[id] = call
			default:
			}
		}
		if len(watcher.calls) > 0 {
			idle = 0
		} else if idle++; idle >= watchIdlePolls {
			watcher.running = false
			watcher.mu.Unlock()
			return
		}
		watcher.mu.Unlock()
	}
}
