package zkutil_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	zkutil "github.com/zkutil/zkutil/bindings/go"
)

func TestLoggerAndStats(t *testing.T) {
	if err := zkutil.SetLogger(99, func(zkutil.LogMessage) {}); !errors.Is(err, zkutil.ErrInval) {
		t.Fatalf("SetLogger(99): %v, want ErrInval", err)
	}
	messages := make(chan zkutil.LogMessage, 1024)
	if err := zkutil.SetLogger(zkutil.LogInfo, func(m zkutil.LogMessage) {
		select {
		case messages <- m:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	c := connect(t)
	deadline := time.After(10 * time.Second)
	for found := false; !found; {
		select {
		case m := <-messages:
			found = m.Level == zkutil.LogInfo && strings.Contains(m.Message, "session")
		case <-deadline:
			t.Fatal("no info message naming the session after connecting")
		}
	}
	if err := zkutil.SetLogger(zkutil.LogDebug, func(zkutil.LogMessage) { panic("in the logger") }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get(timeout(t), uniquePath(t)); !errors.Is(err, zkutil.ErrNoNode) {
		t.Fatalf("Get of a missing node: %v", err)
	}
	var p *zkutil.PanicError
	if err := zkutil.SetLogger(zkutil.LogInfo, nil); !errors.As(err, &p) || p.Value != "in the logger" {
		t.Fatalf("SetLogger after a panicking logger: %v, want its *PanicError", err)
	}

	st, err := c.Stats()
	if err != nil || st.RequestsSent == 0 || st.ErrorsNode == 0 {
		t.Fatalf("Stats() = %+v, %v; want the Get counted as a node error", st, err)
	}
	c.Close()
	if _, err := c.Stats(); !errors.Is(err, zkutil.ErrClosed) {
		t.Fatalf("Stats after Close: %v, want ErrClosed", err)
	}
}
