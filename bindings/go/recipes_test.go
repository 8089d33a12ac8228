package zkutil_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	zkutil "github.com/zkutil/zkutil/bindings/go"
)

func TestCASIncrementsExact(t *testing.T) {
	path := uniquePath(t)
	const workers, increments = 4, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		c := connect(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < increments; i++ {
				_, _, err := c.Update(timeout(t), path, func(v []byte, _ *zkutil.Stat) ([]byte, error) {
					n, err := strconv.Atoi(string(v))
					if err != nil {
						return nil, err
					}
					return []byte(strconv.Itoa(n + 1)), nil
				}, &zkutil.CASOptions{Flags: zkutil.CASCreate, Initial: []byte("0")})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	data, _, err := connect(t).Get(timeout(t), path)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != strconv.Itoa(workers*increments) {
		t.Fatalf("counter %s, want %d", data, workers*increments)
	}
}

func TestCASSkipAndHandle(t *testing.T) {
	c := connect(t)
	path := uniquePath(t)
	if _, _, err := c.CreateJSON(timeout(t), path, `{"n":1}`, nil); err != nil {
		t.Fatal(err)
	}
	st, runs, err := c.Update(timeout(t), path, func([]byte, *zkutil.Stat) ([]byte, error) { return nil, zkutil.ErrSkip }, nil)
	if err != nil || runs != 1 || st.Version != 0 {
		t.Fatalf("skip: %+v, %d runs, %v", st, runs, err)
	}
	x, err := c.BeginCAS(timeout(t), path, &zkutil.CASOptions{Flags: zkutil.CASJSON})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if string(x.Value()) != `{"n":1}` || x.Version() != 0 {
		t.Fatalf("BeginCAS read %q version %d", x.Value(), x.Version())
	}
	if _, err := c.SetJSON(timeout(t), path, `{"n":2}`, zkutil.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Commit(timeout(t), []byte(`{"n":3}`)); !errors.Is(err, zkutil.ErrBadVersion) {
		t.Fatalf("stale commit: %v, want ErrBadVersion", err)
	}
	if err := x.Reread(timeout(t)); err != nil {
		t.Fatal(err)
	}
	if st, err := x.Commit(timeout(t), []byte(`{"n":3}`)); err != nil || st.Version != 2 {
		t.Fatalf("commit after reread: %+v, %v", st, err)
	}
}

func TestReaderSeesChange(t *testing.T) {
	c := connect(t)
	path := uniquePath(t)
	if _, _, err := c.CreateJSON(timeout(t), path, `{"a":1}`, nil); err != nil {
		t.Fatal(err)
	}
	called := make(chan zkutil.ReaderEvent, 16)
	r, err := c.NewReader(timeout(t), path, func(ev zkutil.ReaderEvent) { called <- ev })
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.GetPointer("/a"); err != nil || v != "1" {
		t.Fatalf("GetPointer(/a) = %q, %v", v, err)
	}
	if _, err := r.GetPointer("/missing"); !errors.Is(err, zkutil.ErrNoMember) {
		t.Fatalf("GetPointer(/missing): %v, want ErrNoMember", err)
	}
	if _, err := c.SetJSON(timeout(t), path, `{"a":2}`, zkutil.AnyVersion); err != nil {
		t.Fatal(err)
	}
	oldJSON, newJSON, _, err := r.Watch(timeout(t))
	if err != nil || oldJSON != `{"a":1}` || newJSON != `{"a":2}` {
		t.Fatalf("Watch() = %q -> %q, %v", oldJSON, newJSON, err)
	}
	for _, ch := range []<-chan zkutil.ReaderEvent{r.Events(), called} {
		select {
		case ev := <-ch:
			if ev.Kind != zkutil.ReaderEventChanged || ev.New != `{"a":2}` || ev.Path != path {
				t.Fatalf("event %+v, want CHANGED to {\"a\":2}", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no change event")
		}
	}
	if v, _ := r.GetPointer("/a"); v != "2" {
		t.Fatalf("GetPointer(/a) after the change = %q", v)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Get(); !errors.Is(err, zkutil.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	for range r.Events() { // closed by Close
	}
}

// cancelWithin cancels a blocked call after `after` and checks that it
// returns promptly with an error matching both ErrCancelled and
// context.Canceled. The library promises 50 ms; the bound leaves room for
// a loaded machine, and the figure is logged.
func cancelWithin(t *testing.T, name string, after time.Duration, call func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var cancelled time.Time
	time.AfterFunc(after, func() {
		cancelled = time.Now()
		cancel()
	})
	err := call(ctx)
	late := time.Since(cancelled)
	if !errors.Is(err, zkutil.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("%s: %v, want ErrCancelled and context.Canceled", name, err)
	}
	t.Logf("%s returned %v after the cancel", name, late)
	if late > 500*time.Millisecond {
		t.Fatalf("%s returned %v after the cancel", name, late)
	}
}

func TestCancelFromContext(t *testing.T) {
	c := connect(t)
	path := uniquePath(t)
	if _, _, err := c.Create(timeout(t), path, nil, nil); err != nil {
		t.Fatal(err)
	}
	cancelWithin(t, "GetNext", 200*time.Millisecond, func(ctx context.Context) error {
		_, _, err := c.GetNext(ctx, path, 0, false)
		return err
	})
	// Cancelled before the watcher's first look at the context.
	cancelWithin(t, "GetNext cancelled at once", time.Millisecond, func(ctx context.Context) error {
		_, _, err := c.GetNext(ctx, path, 0, false)
		return err
	})
	name := uniquePath(t)[1:]
	holder, err := c.NewLock(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.Acquire(timeout(t)); err != nil {
		t.Fatal(err)
	}
	waiter, err := c.NewLock(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	cancelWithin(t, "Acquire", 200*time.Millisecond, func(ctx context.Context) error {
		_, err := waiter.Acquire(ctx)
		return err
	})
	// A cancelled acquire leaves no node: the holder's is still the only one.
	if id, _, _, err := waiter.Holder(timeout(t)); err != nil || id != holder.Identifier() {
		t.Fatalf("holder after the cancelled acquire: %q, %v", id, err)
	}
}

func TestDeadlineBecomesTimeout(t *testing.T) {
	c := connect(t)
	path := uniquePath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err := c.WaitAbsent(ctx, "/zookeeper")
	took := time.Since(begin)
	if !errors.Is(err, zkutil.ErrTimeout) && !errors.Is(err, zkutil.ErrCancelled) {
		t.Fatalf("WaitAbsent: %v, want ErrTimeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitAbsent: %v, want context.DeadlineExceeded", err)
	}
	if took > 2*time.Second {
		t.Fatalf("a 300 ms deadline returned after %v", took)
	}
	// A context already done: nothing is sent.
	if _, _, err := c.Create(ctx, path, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Create with an expired context: %v", err)
	}
	if ok, _, err := c.Exists(timeout(t), path); err != nil || ok {
		t.Fatalf("the expired Create wrote: %v, %v", ok, err)
	}
}

func TestPanickingCallbacks(t *testing.T) {
	c := connect(t)
	path := uniquePath(t)
	if _, _, err := c.Create(timeout(t), path, []byte("1"), nil); err != nil {
		t.Fatal(err)
	}
	var pe *zkutil.PanicError
	_, _, err := c.Update(timeout(t), path, func([]byte, *zkutil.Stat) ([]byte, error) { panic("boom") }, nil)
	if !errors.Is(err, zkutil.ErrAborted) || !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("panicking Update func: %v, want ErrAborted with a PanicError", err)
	}
	userErr := errors.New("no thanks")
	_, _, err = c.Update(timeout(t), path, func([]byte, *zkutil.Stat) ([]byte, error) { return nil, userErr }, nil)
	if !errors.Is(err, zkutil.ErrAborted) || !errors.Is(err, userErr) {
		t.Fatalf("failing Update func: %v, want ErrAborted wrapping its error", err)
	}
	if data, _, err := c.Get(timeout(t), path); err != nil || string(data) != "1" {
		t.Fatalf("node after aborted updates: %q, %v", data, err)
	}

	name := uniquePath(t)[1:]
	holder, _ := c.NewLock(name, nil)
	defer holder.Close()
	if _, err := holder.Acquire(timeout(t)); err != nil {
		t.Fatal(err)
	}
	waiter, _ := c.NewLock(name, nil)
	_, err = waiter.AcquireLoop(timeout(t), func([]byte, int32) bool { panic("holder boom") })
	if !errors.Is(err, zkutil.ErrAborted) || !errors.As(err, &pe) {
		t.Fatalf("panicking holder func: %v, want ErrAborted with a PanicError", err)
	}
	if err := waiter.OnState(func(_, _ zkutil.LockState) { panic("state boom") }); err != nil {
		t.Fatal(err)
	}
	if err := holder.Release(timeout(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := waiter.Acquire(timeout(t)); err != nil {
		t.Fatalf("acquire after a panicking callback: %v", err)
	}
	if err := waiter.Close(); !errors.As(err, &pe) || pe.Value != "state boom" {
		t.Fatalf("Close after a panicking state func: %v, want its PanicError", err)
	}

	node := uniquePath(t)
	if _, _, err := c.CreateJSON(timeout(t), node, `{}`, nil); err != nil {
		t.Fatal(err)
	}
	r, err := c.NewReader(timeout(t), node, func(zkutil.ReaderEvent) { panic("event boom") })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetJSON(timeout(t), node, `{"x":1}`, zkutil.AnyVersion); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.Events(): // delivered after the func panicked
	case <-time.After(10 * time.Second):
		t.Fatal("no reader event")
	}
	if err := r.Close(); !errors.As(err, &pe) || pe.Value != "event boom" {
		t.Fatalf("reader Close after a panicking event func: %v, want its PanicError", err)
	}
}

func TestNodeOperationsAndHierarchy(t *testing.T) {
	c := connect(t)
	root := uniquePath(t)
	ctx := timeout(t)
	created, st, err := c.Create(ctx, root+"/a/b", []byte("hi"), &zkutil.CreateOptions{Flags: zkutil.CreateParents})
	if err != nil || created != root+"/a/b" || st.DataLength != 2 {
		t.Fatalf("Create: %q %+v %v", created, st, err)
	}
	if _, _, err := c.Create(ctx, root+"/a/b", nil, nil); !errors.Is(err, zkutil.ErrNodeExists) {
		t.Fatalf("Create twice: %v, want ErrNodeExists", err)
	}
	if kids, _, err := c.Children(ctx, root+"/a"); err != nil || len(kids) != 1 || kids[0] != "b" {
		t.Fatalf("Children: %v %v", kids, err)
	}
	if _, err := c.Set(ctx, root+"/a/b", []byte("x"), 5); !errors.Is(err, zkutil.ErrBadVersion) {
		t.Fatalf("Set with a wrong version: %v, want ErrBadVersion", err)
	}
	acl, _, err := c.GetACL(ctx, root)
	if err != nil || len(acl) != 1 || acl[0].Perms != zkutil.PermAll || acl[0].Scheme != "world" {
		t.Fatalf("GetACL: %+v %v", acl, err)
	}
	entry, err := zkutil.DigestEntry("xp", "123", "cdrwa")
	if err != nil || entry.ID != "xp:LNcZO17uqqJ4GuYoSclIsGjYniQ=" || entry.Scheme != "digest" {
		t.Fatalf("DigestEntry: %+v %v", entry, err)
	}
	doc, err := c.ExportHierarchy(ctx, root, nil, 0)
	if err != nil || !strings.Contains(doc, `"b"`) {
		t.Fatalf("ExportHierarchy: %s %v", doc, err)
	}
	copyRoot := uniquePath(t)
	stats, err := c.ImportHierarchy(ctx, copyRoot, doc, nil, 0)
	if err != nil || stats.Created != 3 {
		t.Fatalf("ImportHierarchy: %+v %v", stats, err)
	}
	if data, _, err := c.Get(ctx, copyRoot+"/a/b"); err != nil || string(data) != "hi" {
		t.Fatalf("imported node: %q %v", data, err)
	}
	if err := c.Delete(ctx, root+"/a", zkutil.AnyVersion); !errors.Is(err, zkutil.ErrNotEmpty) {
		t.Fatalf("Delete of a parent: %v, want ErrNotEmpty", err)
	}
	if err := c.WaitAbsent(ctx, root+"/none"); err != nil {
		t.Fatalf("WaitAbsent of a missing node: %v", err)
	}
}

func TestSessionRenewalOption(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := zkutil.Connect(ctx, zkutil.Config{Hosts: hosts, SessionRenewal: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.State() != zkutil.StateConnected || c.SessionID() == 0 {
		t.Fatalf("state %v, session %x", c.State(), c.SessionID())
	}
}

func TestClientStates(t *testing.T) {
	c := connect(t)
	if c.State() != zkutil.StateConnected {
		t.Fatalf("state %v", c.State())
	}
	states, err := c.States()
	if err != nil {
		t.Fatal(err)
	}
	var last zkutil.State
	if err := c.OnState(func(_, s zkutil.State) { last = s }); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var got []zkutil.State
	for ch := range states { // closed by Close
		got = append(got, ch.New)
	}
	if c.State() != zkutil.StateClosed {
		t.Fatalf("state after Close: %v", c.State())
	}
	if _, _, err := c.Get(timeout(t), "/"); !errors.Is(err, zkutil.ErrClosed) {
		t.Fatalf("Get after Close: %v, want ErrClosed", err)
	}
	t.Logf("states seen: %v, last by the func: %v", got, last)
}

func TestCloseContext(t *testing.T) {
	observer := connect(t)
	for _, tc := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 5*time.Second)
		}},
		// Already done: the session is closed all the same, without waiting
		// (and the context's error returned).
		{"cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}},
	} {
		c := connect(t)
		path, _, err := c.Create(timeout(t), uniquePath(t), nil, &zkutil.CreateOptions{Flags: zkutil.CreateEphemeral})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := tc.ctx()
		begin := time.Now()
		err = c.CloseContext(ctx)
		took := time.Since(begin)
		if ctx.Err() == nil && err != nil || ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			t.Fatalf("%s: CloseContext: %v", tc.name, err)
		}
		cancel()
		if took > 2*time.Second {
			t.Fatalf("%s: CloseContext took %v", tc.name, took)
		}
		if _, _, err := c.Get(timeout(t), "/"); !errors.Is(err, zkutil.ErrClosed) {
			t.Fatalf("%s: Get after CloseContext: %v, want ErrClosed", tc.name, err)
		}
		if err := c.CloseContext(timeout(t)); err != nil {
			t.Fatalf("%s: closing again: %v", tc.name, err)
		}
		// The ephemeral node went with the session (at once when the
		// close was confirmed, soon after when it was not waited for).
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok, _, err := observer.Exists(timeout(t), path)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the ephemeral node outlived the closed session", tc.name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// A stalled server never confirms the close: CloseContext returns at its
// context's deadline or cancellation (Close would wait up to 5 s).
func TestCloseContextStalledServer(t *testing.T) {
	own, dir, stop, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	pidText, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	byDeadline, err := zkutil.Connect(timeout(t), zkutil.Config{Hosts: own})
	if err != nil {
		t.Fatal(err)
	}
	byCancel, err := zkutil.Connect(timeout(t), zkutil.Config{Hosts: own})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = byDeadline.CloseContext(ctx)
	took := time.Since(begin)
	t.Logf("CloseContext with a 300 ms deadline: %v after %v", err, took)
	// ErrCancelled when the context's watcher fired before the C timeout.
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, zkutil.ErrTimeout) && !errors.Is(err, zkutil.ErrCancelled) {
		t.Fatalf("CloseContext with a 300 ms deadline: %v, want ErrTimeout and context.DeadlineExceeded", err)
	}
	if took > 2*time.Second {
		t.Fatalf("CloseContext with a 300 ms deadline returned after %v", took)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	begin = time.Now()
	err = byCancel.CloseContext(ctx)
	took = time.Since(begin)
	if !errors.Is(err, zkutil.ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("CloseContext cancelled after 200 ms: %v, want ErrCancelled and context.Canceled", err)
	}
	t.Logf("CloseContext cancelled after 200 ms returned after %v", took)
	if took > 2*time.Second {
		t.Fatalf("CloseContext cancelled after 200 ms returned after %v", took)
	}
	for _, c := range []*zkutil.Client{byDeadline, byCancel} {
		if _, _, err := c.Get(timeout(t), "/"); !errors.Is(err, zkutil.ErrClosed) {
			t.Fatalf("Get after CloseContext: %v, want ErrClosed", err)
		}
	}
}

// Get reads through a pooled buffer of 4 KiB: data of every size comes back
// whole, in a slice of its own (not the pool's), with its stat.
func TestGetOfEverySize(t *testing.T) {
	c := connect(t)
	ctx := timeout(t)
	root := uniquePath(t)
	if _, _, err := c.Create(ctx, root, nil, nil); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	for i, size := range []int{0, 1, 4095, 4096, 4097, 100000} {
		data := make([]byte, size)
		for k := range data {
			data[k] = byte(k*7 + i)
		}
		path := fmt.Sprintf("%s/n%d", root, size)
		if _, _, err := c.Create(ctx, path, data, nil); err != nil {
			t.Fatal(err)
		}
		read, st, err := c.Get(ctx, path)
		if err != nil || !bytes.Equal(read, data) || int(st.DataLength) != size || read == nil {
			t.Fatalf("Get of %d bytes: %d bytes (nil: %v), stat %+v, %v", size, len(read), read == nil, st, err)
		}
		got = append(got, read)
	}
	for i, size := range []int{0, 1, 4095, 4096, 4097, 100000} {
		if len(got[i]) != size || (size > 0 && got[i][0] != byte(i)) {
			t.Fatalf("the %d-byte result changed after later Gets", size)
		}
	}
	if _, _, err := c.Get(ctx, root+"/none"); !errors.Is(err, zkutil.ErrNoNode) {
		t.Fatalf("Get of a missing node: %v, want ErrNoNode", err)
	}
}

// One watcher looks after every cancellable call: cancelling some of many
// concurrent calls ends those (within 50 ms) and no other; the zku_cancel
// objects reused after thousands of calls still work; the watcher
// goroutine ends once no call is in flight.
func TestContextWatcherWithManyCalls(t *testing.T) {
	c := connect(t)
	path := uniquePath(t)
	if _, _, err := c.Create(timeout(t), path, nil, nil); err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	long, stopLong := context.WithCancel(context.Background())
	defer stopLong()
	for i := 0; i < 2000; i++ { // spares taken and put back
		if _, _, err := c.Get(long, path); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		i   int
		err error
	}
	results := make(chan result, 20)
	cancels := make([]context.CancelFunc, 20)
	for i := range cancels {
		ctx, cancel := context.WithCancel(context.Background())
		cancels[i] = cancel
		go func(i int) {
			results <- result{i, c.WaitAbsent(ctx, path)}
		}(i)
	}
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	for i := 0; i < 20; i += 2 {
		cancels[i]()
	}
	for k := 0; k < 10; k++ {
		r := <-results
		if r.i%2 != 0 || !errors.Is(r.err, zkutil.ErrCancelled) || !errors.Is(r.err, context.Canceled) {
			t.Fatalf("call %d ended with %v; want only the even ones, cancelled", r.i, r.err)
		}
	}
	if took := time.Since(start); took > 50*time.Millisecond+200*time.Millisecond {
		t.Fatalf("cancelled calls took %v to return", took)
	}
	select {
	case r := <-results:
		t.Fatalf("call %d, not cancelled, ended: %v", r.i, r.err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := c.Delete(timeout(t), path, zkutil.AnyVersion); err != nil {
		t.Fatal(err)
	}
	for k := 0; k < 10; k++ {
		if r := <-results; r.err != nil {
			t.Fatalf("call %d: %v", r.i, r.err)
		}
	}
	for _, cancel := range cancels {
		cancel()
	}
	// A cancelled zku_cancel is sticky: were one reused, these would fail.
	for i := 0; i < 100; i++ {
		if _, _, err := c.Exists(long, "/"); err != nil {
			t.Fatalf("a call after the cancellations: %v", err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines once every call ended, %d before", n, base)
	}
}
