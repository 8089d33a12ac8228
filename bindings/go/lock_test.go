package zkutil_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zkutil "github.com/zkutil/zkutil/bindings/go"
)

func TestLockContentionAcrossGoroutines(t *testing.T) {
	c := connect(t)
	name := uniquePath(t)[1:]
	const workers, rounds = 4, 10
	var holders atomic.Int32
	var mu sync.Mutex
	var tokens []int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := c.NewLock(name, nil)
			if err != nil {
				errs <- err
				return
			}
			defer l.Close()
			for i := 0; i < rounds; i++ {
				token, err := l.Acquire(timeout(t))
				if err != nil {
					errs <- fmt.Errorf("acquire: %w", err)
					return
				}
				if n := holders.Add(1); n != 1 {
					errs <- fmt.Errorf("%d holders at once", n)
				}
				mu.Lock()
				tokens = append(tokens, token)
				mu.Unlock()
				holders.Add(-1)
				if err := l.Release(timeout(t)); err != nil {
					errs <- fmt.Errorf("release: %w", err)
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
	if len(tokens) != workers*rounds {
		t.Fatalf("%d acquisitions, want %d", len(tokens), workers*rounds)
	}
	for i := 1; i < len(tokens); i++ {
		if tokens[i] <= tokens[i-1] {
			t.Fatalf("token %d after %d: tokens must increase in hold order", tokens[i], tokens[i-1])
		}
	}
}

// TestLockContentionAcrossProcesses runs helper processes (this test
// binary, ZKU_GO_HELPER=lock) that each acquire the lock repeatedly and,
// while holding it, check that their token is larger than the last one
// written to a fence node and write it there with a guarded write.
func TestLockContentionAcrossProcesses(t *testing.T) {
	c := connect(t)
	name := uniquePath(t)[1:]
	fence := uniquePath(t)
	if _, _, err := c.Create(timeout(t), fence, []byte("0"), nil); err != nil {
		t.Fatal(err)
	}
	const procs, rounds = 3, 5
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "ZKU_GO_HELPER=lock", "ZKU_TEST_HOSTS="+hosts,
			"ZKU_GO_LOCK_NAME="+name, "ZKU_GO_FENCE="+fence, fmt.Sprintf("ZKU_GO_ROUNDS=%d", rounds))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v", i, err)
		}
	}
	_, st, err := c.Get(timeout(t), fence)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != procs*rounds {
		t.Fatalf("fence written %d times, want %d", st.Version, procs*rounds)
	}
}

func runHelper(role string) int {
	if role != "lock" {
		fmt.Fprintln(os.Stderr, "unknown helper", role)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := zkutil.Connect(ctx, zkutil.Config{Hosts: os.Getenv("ZKU_TEST_HOSTS")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper connect:", err)
		return 1
	}
	defer c.Close()
	l, err := c.NewLock(os.Getenv("ZKU_GO_LOCK_NAME"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper lock:", err)
		return 1
	}
	defer l.Close()
	fence := os.Getenv("ZKU_GO_FENCE")
	rounds, _ := strconv.Atoi(os.Getenv("ZKU_GO_ROUNDS"))
	for i := 0; i < rounds; i++ {
		token, err := l.Acquire(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper acquire:", err)
			return 1
		}
		data, _, err := c.Get(ctx, fence)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper get:", err)
			return 1
		}
		if last, _ := strconv.ParseInt(string(data), 10, 64); token <= last {
			fmt.Fprintf(os.Stderr, "helper: token %d not above the last written %d\n", token, last)
			return 1
		}
		if _, err := l.GuardedSet(ctx, fence, []byte(strconv.FormatInt(token, 10)), zkutil.AnyVersion); err != nil {
			fmt.Fprintln(os.Stderr, "helper guarded set:", err)
			return 1
		}
		time.Sleep(5 * time.Millisecond) // hold it a while, so the others queue up
		if err := l.Release(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "helper release:", err)
			return 1
		}
	}
	return 0
}

func TestLockStatesChannelAndCallback(t *testing.T) {
	c := connect(t)
	l, err := c.NewLock(uniquePath(t)[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	states, err := l.States()
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan zkutil.LockState, 16)
	if err := l.OnState(func(_, s zkutil.LockState) { seen <- s }); err != nil {
		t.Fatal(err)
	}
	token, err := l.Acquire(timeout(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := l.Token(); err != nil || got != token {
		t.Fatalf("Token() = %d, %v; want %d", got, err, token)
	}
	if err := l.Release(timeout(t)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []zkutil.LockState{zkutil.LockHeld, zkutil.LockUnlocked} {
		select {
		case ch := <-states:
			if ch.New != want {
				t.Fatalf("channel: %v, want %v", ch.New, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("channel: no %v", want)
		}
		if s := <-seen; s != want {
			t.Fatalf("callback: %v, want %v", s, want)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-states; ok {
		t.Fatal("States channel still open after Close")
	}
	if _, err := l.Acquire(timeout(t)); !errors.Is(err, zkutil.ErrClosed) {
		t.Fatalf("Acquire after Close: %v, want ErrClosed", err)
	}
}

func TestLockGuardedWritesAndHolder(t *testing.T) {
	c := connect(t)
	data := uniquePath(t)
	if _, _, err := c.Create(timeout(t), data, nil, nil); err != nil {
		t.Fatal(err)
	}
	name := uniquePath(t)[1:]
	l, err := c.NewLock(name, &zkutil.LockOptions{Identifier: "go-test-holder"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.GuardedSet(timeout(t), data, []byte("x"), zkutil.AnyVersion); !errors.Is(err, zkutil.ErrNotLocked) {
		t.Fatalf("GuardedSet unlocked: %v, want ErrNotLocked", err)
	}
	token, err := l.Acquire(timeout(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.GuardedSet(timeout(t), data, []byte("x"), zkutil.AnyVersion); err != nil {
		t.Fatal(err)
	}
	id, _, st, err := l.Holder(timeout(t))
	if err != nil || id != "go-test-holder" || st.Czxid != token {
		t.Fatalf("Holder() = %q, czxid %d, %v; want go-test-holder, %d", id, st.Czxid, err, token)
	}
	if err := l.GuardedDelete(timeout(t), data, zkutil.AnyVersion); err != nil {
		t.Fatal(err)
	}
	other, err := c.NewLock(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	res, err := other.TryAcquire(timeout(t))
	if err != nil || res.Done {
		t.Fatalf("TryAcquire of a held lock: %+v, %v", res, err)
	}
	// Close releases a held lock.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if res, err := other.TryAcquire(timeout(t)); err != nil || !res.Done || res.Token <= token {
		t.Fatalf("TryAcquire after the holder's Close: %+v, %v", res, err)
	}
}

func TestLockDefaultTimeoutWithoutDeadline(t *testing.T) {
	c := connect(t)
	name := uniquePath(t)[1:]
	holder, _ := c.NewLock(name, nil)
	defer holder.Close()
	if _, err := holder.Acquire(timeout(t)); err != nil {
		t.Fatal(err)
	}
	waiter, err := c.NewLock(name, &zkutil.LockOptions{DefaultTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	ctx, cancel := context.WithCancel(context.Background()) // no deadline
	defer cancel()
	begin := time.Now()
	_, err = waiter.Acquire(ctx)
	took := time.Since(begin)
	if !errors.Is(err, zkutil.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire: %v, want ErrTimeout from the lock's default timeout", err)
	}
	if took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf("a 300 ms default timeout returned after %v", took)
	}
}

// A callback that uses its handle while Close waits for it must not
// deadlock: Close frees the handle without holding what calls take.
func TestCloseWhileCallbacksUseTheHandles(t *testing.T) {
	c := connect(t)
	l, err := c.NewLock(uniquePath(t)[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.OnState(func(_, _ zkutil.LockState) { l.State(); l.Path() }); err != nil {
		t.Fatal(err)
	}
	if err := c.OnState(func(_, _ zkutil.State) { c.State() }); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Acquire(timeout(t)); err != nil {
		t.Fatal(err)
	}
	for _, h := range []interface{ Close() error }{l, c} {
		done := make(chan error, 1)
		go func() { done <- h.Close() }() // the lock's release calls its callback
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("%T.Close deadlocked with its callback", h)
		}
	}
}

func TestLockFD(t *testing.T) {
	c := connect(t)
	l, err := c.NewLock(uniquePath(t)[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd, err := l.FD()
	if err != nil {
		t.Fatal(err)
	}
	if !readable(t, fd, 5*time.Second) || l.FDDrain() != zkutil.LockUnlocked {
		t.Fatal("FD not readable with LockUnlocked right after its creation")
	}
	if _, err := l.Acquire(timeout(t)); err != nil {
		t.Fatal(err)
	}
	if !readable(t, fd, 5*time.Second) || l.FDDrain() != zkutil.LockHeld {
		t.Fatal("FD not readable with LockHeld after Acquire")
	}
}
