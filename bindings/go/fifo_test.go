package zkutil_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	zkutil "github.com/zkutil/zkutil/bindings/go"
)

// readable waits up to `within` for fd to become readable.
func readable(t *testing.T, fd int, within time.Duration) bool {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var set syscall.FdSet
		set.Bits[fd/64] |= 1 << (uint(fd) % 64)
		tv := syscall.NsecToTimeval(time.Until(deadline).Nanoseconds())
		n, err := syscall.Select(fd+1, &set, nil, nil, &tv)
		if err == syscall.EINTR && time.Now().Before(deadline) {
			continue
		}
		if err != nil {
			t.Fatalf("select(%d): %v", fd, err)
		}
		return n > 0
	}
}

func TestFifoMutexAcrossGoroutines(t *testing.T) {
	c := connect(t)
	name := uniquePath(t)[1:]
	const workers, rounds = 4, 10
	var holders atomic.Int32
	var mu sync.Mutex // guards last: it is only written while holding the lock
	var last int64
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*rounds)
	for w := 0; w < workers; w++ {
		f, err := c.NewFifo(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				token, err := f.Acquire(timeout(t))
				if err != nil {
					errs <- err
					return
				}
				if n := holders.Add(1); n != 1 {
					errs <- errors.New("two holders at once")
				}
				mu.Lock()
				if token <= last {
					errs <- errors.New("token not increasing")
				}
				last = token
				mu.Unlock()
				holders.Add(-1)
				if err := f.Release(timeout(t)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLeaderAndStandbyTakingOver(t *testing.T) {
	c := connect(t)
	name := uniquePath(t)[1:]
	a, err := c.NewLeader(name, &zkutil.FifoOptions{Identifier: "a"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := c.NewLeader(name, &zkutil.FifoOptions{Identifier: "b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	states, err := b.States()
	if err != nil {
		t.Fatal(err)
	}
	tokenA, err := a.Acquire(timeout(t))
	if err != nil {
		t.Fatal(err)
	}
	standby := make(chan int64, 1)
	go func() {
		token, err := b.Acquire(timeout(t))
		if err != nil {
			t.Error("standby:", err)
		}
		standby <- token
	}()
	var ids []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		cs, err := a.Contenders(timeout(t))
		if err != nil {
			t.Fatal(err)
		}
		ids = ids[:0]
		for _, ct := range cs {
			ids = append(ids, ct.ID)
		}
		if len(ids) == 2 {
			break
		}
	}
	if len(ids) != 2 || ids[0] != "a" || ids[1] != "b" {
		t.Fatalf("contenders %v, want the leader a then b", ids)
	}
	if b.State() != zkutil.LockUnlocked {
		t.Fatalf("standby state %v while a leads", b.State())
	}
	if err := a.Release(timeout(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case tokenB := <-standby:
		if tokenB <= tokenA {
			t.Fatalf("new leader's token %d, not above %d", tokenB, tokenA)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the standby did not take over")
	}
	select {
	case ch := <-states:
		if ch.New != zkutil.LockHeld {
			t.Fatalf("standby state change %v, want to LockHeld", ch)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no state change on the new leader")
	}
	if p := b.Path(); p == "" || p[len(p)-len(name):] != name {
		t.Fatalf("Path() = %q, want it to end in %q", p, name)
	}
}

func TestReadWriteLockAndReadOfDowngrade(t *testing.T) {
	c := connect(t)
	name := uniquePath(t)[1:]
	newSide := func(mk func(string, *zkutil.FifoOptions) (*zkutil.Fifo, error)) *zkutil.Fifo {
		t.Helper()
		f, err := mk(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	try := func(f *zkutil.Fifo, want bool, what string) {
		t.Helper()
		locked, _, err := f.TryAcquire(timeout(t))
		if err != nil || locked != want {
			t.Fatalf("%s: TryAcquire = %v, %v; want %v", what, locked, err, want)
		}
	}
	r1, r2 := newSide(c.NewReadLock), newSide(c.NewReadLock)
	w, w2 := newSide(c.NewWriteLock), newSide(c.NewWriteLock)
	try(r1, true, "first reader")
	try(r2, true, "second reader, shared")
	try(w, false, "writer while read")
	for _, r := range []*zkutil.Fifo{r1, r2} {
		if err := r.Release(timeout(t)); err != nil {
			t.Fatal(err)
		}
	}
	wToken, err := w.Acquire(timeout(t))
	if err != nil {
		t.Fatal(err)
	}
	try(r1, false, "reader while written")
	down, err := w.NewReadOf(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if token, err := down.Acquire(ctx); err != nil || token != wToken {
		t.Fatalf("read_of Acquire while the write side holds = %d, %v; want at once with %d", token, err, wToken)
	}
	if err := w.Release(timeout(t)); err != nil {
		t.Fatal(err)
	}
	try(w2, false, "another writer after the downgrade")
	try(r1, true, "another reader after the downgrade")
	if _, err := r1.NewReadOf(nil); !errors.Is(err, zkutil.ErrInval) {
		t.Fatalf("NewReadOf on a read side: %v, want ErrInval", err)
	}
}

func TestFifoGuardedWritesFDAndBadInput(t *testing.T) {
	c := connect(t)
	path := uniquePath(t)
	if _, _, err := c.Create(timeout(t), path, []byte("0"), nil); err != nil {
		t.Fatal(err)
	}
	f, err := c.NewFifo(path[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := f.FD()
	if err != nil {
		t.Fatal(err)
	}
	if !readable(t, fd, 5*time.Second) {
		t.Fatal("FD not readable right after its creation")
	}
	if s := f.FDDrain(); s != zkutil.LockUnlocked {
		t.Fatalf("FDDrain() = %v before Acquire", s)
	}
	if readable(t, fd, 100*time.Millisecond) {
		t.Fatal("FD readable after FDDrain without a change")
	}
	if _, err := f.GuardedSet(timeout(t), path, []byte("1"), zkutil.AnyVersion); !errors.Is(err, zkutil.ErrNotLocked) {
		t.Fatalf("GuardedSet unlocked: %v, want ErrNotLocked", err)
	}
	if _, err := f.Token(); !errors.Is(err, zkutil.ErrNotLocked) {
		t.Fatalf("Token unlocked: %v, want ErrNotLocked", err)
	}
	token, err := f.Acquire(timeout(t))
	if err != nil {
		t.Fatal(err)
	}
	if !readable(t, fd, 5*time.Second) || f.FDDrain() != zkutil.LockHeld {
		t.Fatal("FD not readable with LockHeld after Acquire")
	}
	if got, err := f.Token(); err != nil || got != token {
		t.Fatalf("Token() = %d, %v; want %d", got, err, token)
	}
	if st, err := f.GuardedSet(timeout(t), path, []byte("1"), 0); err != nil || st.Version != 1 {
		t.Fatalf("GuardedSet held = %+v, %v", st, err)
	}
	if err := f.GuardedDelete(timeout(t), path, 1); err != nil {
		t.Fatal(err)
	}
	if f.LostReason() != "" {
		t.Fatalf("LostReason() = %q while held", f.LostReason())
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Acquire(timeout(t)); !errors.Is(err, zkutil.ErrClosed) {
		t.Fatalf("Acquire after Close: %v, want ErrClosed", err)
	}
	if f.State() != zkutil.LockUnlocked {
		t.Fatalf("State() after Close = %v", f.State())
	}
	if _, err := c.NewFifo("", nil); !errors.Is(err, zkutil.ErrPath) {
		t.Fatalf("NewFifo(\"\"): %v, want ErrPath", err)
	}
}

func TestFifoCloseEndsABlockedAcquire(t *testing.T) {
	c := connect(t)
	name := uniquePath(t)[1:]
	holder, err := c.NewFifo(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.Acquire(timeout(t)); err != nil {
		t.Fatal(err)
	}
	waiter, err := c.NewFifo(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	acquired := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() {
			_, err := waiter.Acquire(context.Background())
			acquired <- err
		}()
	}
	time.Sleep(300 * time.Millisecond)
	// Cancel ends both acquires (the second waits behind the first); the
	// handle stays usable.
	waiter.Cancel()
	for i := 0; i < 2; i++ {
		select {
		case err := <-acquired:
			if !errors.Is(err, zkutil.ErrCancelled) {
				t.Fatalf("a cancelled Acquire: %v, want ErrCancelled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Cancel did not end a blocked Acquire")
		}
	}
	// (A deadline ends it as a timeout or, when the context's timer fires
	// first, as a cancel: either way with context.DeadlineExceeded.)
	if _, err := waiter.Acquire(shortContext(t, 200*time.Millisecond)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an Acquire after Cancel: %v, want the context's deadline", err)
	}
	// Close ends a blocked Acquire too, then frees the handle.
	go func() {
		_, err := waiter.Acquire(context.Background())
		acquired <- err
	}()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := waiter.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-acquired; !errors.Is(err, zkutil.ErrCancelled) {
		t.Fatalf("the Acquire blocked during Close: %v, want ErrCancelled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("Close took %v with an Acquire blocked", took)
	}
	if cs, err := holder.Contenders(timeout(t)); err != nil || len(cs) != 1 {
		t.Fatalf("contenders after Close = %v, %v; want the holder alone", cs, err)
	}
}

func shortContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
