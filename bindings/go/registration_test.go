package zkutil_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	zkutil "github.com/zkutil/zkutil/bindings/go"
)

// waitState waits for a state change to want on ch.
func waitState(t *testing.T, ch <-chan zkutil.RegistrationStateChange, want zkutil.RegistrationState) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case got := <-ch:
			if got.New == want {
				return
			}
		case <-deadline:
			t.Fatalf("no change to %v", want)
		}
	}
}

func TestRegistrationRecreatedAndListedByMembers(t *testing.T) {
	c, operator := connect(t), connect(t)
	parent := uniquePath(t)
	reg, err := c.Register(timeout(t), parent+"/a", []byte("one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if reg.State() != zkutil.RegistrationPresent || reg.AbsentReason() != "" {
		t.Fatalf("State() = %v (%q), want present", reg.State(), reg.AbsentReason())
	}
	if p, err := reg.Path(); err != nil || p != parent+"/a" {
		t.Fatalf("Path() = %q, %v", p, err)
	}
	states, err := reg.States()
	if err != nil {
		t.Fatal(err)
	}
	called := make(chan zkutil.RegistrationStateChange, 16)
	if err := reg.OnState(func(old, new zkutil.RegistrationState) { called <- zkutil.RegistrationStateChange{Old: old, New: new} }); err != nil {
		t.Fatal(err)
	}
	fd, err := reg.FD()
	if err != nil {
		t.Fatal(err)
	}
	if !readable(t, fd, 5*time.Second) || reg.FDDrain() != zkutil.RegistrationPresent {
		t.Fatal("FD not readable with the present state right after its creation")
	}
	if err := operator.Delete(timeout(t), parent+"/a", zkutil.AnyVersion); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan zkutil.RegistrationStateChange{states, called} {
		waitState(t, ch, zkutil.RegistrationAbsent)
		waitState(t, ch, zkutil.RegistrationPresent)
	}
	if !readable(t, fd, 5*time.Second) || reg.FDDrain() != zkutil.RegistrationPresent {
		t.Fatal("FD not readable with the present state after the re-creation")
	}
	seq, err := c.Register(timeout(t), parent+"/m-", []byte("two"), &zkutil.RegistrationOptions{Flags: zkutil.RegistrationSequential})
	if err != nil {
		t.Fatal(err)
	}
	seqPath, err := seq.Path()
	if err != nil || !strings.HasPrefix(seqPath, parent+"/m-") || len(seqPath) == len(parent+"/m-") {
		t.Fatalf("sequential Path() = %q, %v", seqPath, err)
	}
	if err := reg.SetData(timeout(t), []byte("uno")); err != nil {
		t.Fatal(err)
	}
	members, err := operator.Members(timeout(t), parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(members) != 2 || members[0].Name != "a" || string(members[0].Data) != "uno" ||
		parent+"/"+members[1].Name != seqPath || string(members[1].Data) != "two" {
		t.Fatalf("Members() = %+v", members)
	}
	for _, r := range []*zkutil.Registration{reg, seq} {
		if err := r.Close(timeout(t)); err != nil {
			t.Fatal(err)
		}
		if r.State() != zkutil.RegistrationClosed {
			t.Fatalf("State() after Close = %v", r.State())
		}
	}
	if members, err := operator.Members(timeout(t), parent); err != nil || len(members) != 0 {
		t.Fatalf("Members() after Close = %+v, %v; want none", members, err)
	}
	if err := reg.SetData(timeout(t), nil); !errors.Is(err, zkutil.ErrClosed) {
		t.Fatalf("SetData after Close: %v, want ErrClosed", err)
	}
	for range states { // closed by Close
	}
}

func TestRegistrationBadInput(t *testing.T) {
	c := connect(t)
	path := uniquePath(t)
	if _, err := c.Register(timeout(t), "relative", nil, nil); !errors.Is(err, zkutil.ErrPath) {
		t.Fatalf("Register(relative): %v, want ErrPath", err)
	}
	ttl := &zkutil.RegistrationOptions{TTL: time.Minute}
	if _, err := c.Register(timeout(t), path, nil, ttl); !errors.Is(err, zkutil.ErrInval) {
		t.Fatalf("Register with a TTL, ephemeral: %v, want ErrInval", err)
	}
	if _, err := c.Register(timeout(t), path, nil, &zkutil.RegistrationOptions{Flags: 64}); !errors.Is(err, zkutil.ErrInval) {
		t.Fatalf("Register with unknown flags: %v, want ErrInval", err)
	}
	if ok, _, err := c.Exists(timeout(t), path); err != nil || ok {
		t.Fatalf("Exists(%s) after the refusals = %v, %v; want nothing written", path, ok, err)
	}
	if _, err := c.Members(timeout(t), path); !errors.Is(err, zkutil.ErrNoNode) {
		t.Fatalf("Members of a missing parent: %v, want ErrNoNode", err)
	}
}

func TestClientAndReaderFD(t *testing.T) {
	c := connect(t)
	fd, err := c.FD()
	if err != nil {
		t.Fatal(err)
	}
	if !readable(t, fd, 5*time.Second) || c.FDDrain() != zkutil.StateConnected {
		t.Fatal("client FD not readable with StateConnected right after its creation")
	}
	if readable(t, fd, 100*time.Millisecond) {
		t.Fatal("client FD readable after FDDrain without a change")
	}

	path := uniquePath(t)
	if _, _, err := c.CreateJSON(timeout(t), path, `{"a":1}`, nil); err != nil {
		t.Fatal(err)
	}
	r, err := c.NewReader(timeout(t), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rfd, err := r.FD()
	if err != nil {
		t.Fatal(err)
	}
	if !readable(t, rfd, 5*time.Second) || r.FDDrain() != zkutil.ReaderStateFresh {
		t.Fatal("reader FD not readable with ReaderStateFresh right after its creation")
	}
	if _, err := c.SetJSON(timeout(t), path, `{"a":2}`, zkutil.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if !readable(t, rfd, 10*time.Second) || r.FDDrain() != zkutil.ReaderStateFresh {
		t.Fatal("reader FD not readable after a change")
	}
	if v, _, err := r.Get(); err != nil || v != `{"a":2}` {
		t.Fatalf("Get() after the FD = %q, %v", v, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FD(); !errors.Is(err, zkutil.ErrClosed) {
		t.Fatalf("FD after Close: %v, want ErrClosed", err)
	}
}

func TestRegistrationWaitsForAForeignNode(t *testing.T) {
	c, operator := connect(t), connect(t)
	path := uniquePath(t)
	if _, _, err := operator.Create(timeout(t), path, []byte("theirs"), nil); err != nil {
		t.Fatal(err)
	}
	reg, err := c.Register(timeout(t), path, []byte("ours"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close(timeout(t))
	if reg.State() != zkutil.RegistrationAbsent || reg.AbsentReason() == "" {
		t.Fatalf("State() = %v (%q) with a foreign node at the path, want absent with a reason", reg.State(), reg.AbsentReason())
	}
	if data, _, err := operator.Get(timeout(t), path); err != nil || string(data) != "theirs" {
		t.Fatalf("the foreign node = %q, %v; want it untouched", data, err)
	}
	states, err := reg.States()
	if err != nil {
		t.Fatal(err)
	}
	if err := operator.Delete(timeout(t), path, zkutil.AnyVersion); err != nil {
		t.Fatal(err)
	}
	waitState(t, states, zkutil.RegistrationPresent)
	if data, _, err := operator.Get(timeout(t), path); err != nil || string(data) != "ours" {
		t.Fatalf("the node after the foreign one went = %q, %v; want ours", data, err)
	}
}
