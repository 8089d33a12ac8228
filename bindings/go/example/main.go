// Command example takes a lock, increments a counter with compare-and-swap
// while holding it (a guarded write of the fencing token too), and follows
// a JSON node with a cached reader, and registers itself as a member of a
// group it lists. The servers come from ZKU_HOSTS.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	zkutil "github.com/zkutil/zkutil/bindings/go"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := zkutil.Connect(ctx, zkutil.Config{}) // ZKU_HOSTS, ZKU_* defaults
	if err != nil {
		return err
	}
	defer client.Close()

	lock, err := client.NewLock("zkutil-go-example", nil)
	if err != nil {
		return err
	}
	defer lock.Close()
	token, err := lock.Acquire(ctx)
	if err != nil {
		return err
	}
	fmt.Println("lock held, fencing token", token)

	counter := "/zkutil-go-example/counter"
	_, _, err = client.Update(ctx, counter, func(v []byte, _ *zkutil.Stat) ([]byte, error) {
		n, err := strconv.Atoi(string(v))
		return []byte(strconv.Itoa(n + 1)), err
	}, &zkutil.CASOptions{Flags: zkutil.CASCreate | zkutil.CASCreateParents, Initial: []byte("0")})
	if err != nil {
		return err
	}
	value, _, err := client.Get(ctx, counter)
	if err != nil {
		return err
	}
	fmt.Println("counter is now", string(value))
	if _, err := lock.GuardedSet(ctx, counter, value, zkutil.AnyVersion); err != nil {
		return err // only while the lock is still ours
	}
	if err := lock.Release(ctx); err != nil {
		return err
	}

	config := "/zkutil-go-example/config"
	if _, _, err := client.CreateJSON(ctx, config, `{"jobs":0}`, nil); err != nil && !errors.Is(err, zkutil.ErrNodeExists) {
		return err
	}
	reader, err := client.NewReader(ctx, config, nil)
	if err != nil {
		return err
	}
	defer reader.Close()
	if _, err := client.SetJSON(ctx, config, `{"jobs":`+string(value)+`}`, zkutil.AnyVersion); err != nil {
		return err
	}
	select {
	case ev := <-reader.Events():
		fmt.Printf("reader: %v %s -> %s\n", ev.Kind, ev.Old, ev.New)
	case <-ctx.Done():
		return ctx.Err()
	}

	// An ephemeral sequential member node, kept (re-created if deleted)
	// until Close.
	members := "/zkutil-go-example/members"
	opts := &zkutil.RegistrationOptions{Flags: zkutil.RegistrationSequential}
	me, err := client.Register(ctx, members+"/worker-", []byte("counter "+string(value)), opts)
	if err != nil {
		return err
	}
	defer me.Close(ctx)
	list, err := client.Members(ctx, members)
	if err != nil {
		return err
	}
	for _, m := range list {
		fmt.Printf("member %s: %s\n", m.Name, m.Data)
	}
	return nil
}
