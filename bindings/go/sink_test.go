package zkutil

import "testing"

func TestSinkKeepsTheNewestWhenFull(t *testing.T) {
	s := newSink[int](4)
	var called []int
	s.setFunc(func(v int) { called = append(called, v) })
	for v := 1; v <= 10; v++ {
		s.deliver(v)
	}
	s.finish()
	var got []int
	for v := range s.ch {
		got = append(got, v)
	}
	if len(called) != 10 {
		t.Fatalf("func called %d times, want 10", len(called))
	}
	if len(got) != 4 || got[0] != 7 || got[3] != 10 {
		t.Fatalf("channel kept %v, want [7 8 9 10]", got)
	}
}

func TestSinkRecoversPanics(t *testing.T) {
	s := newSink[int](1)
	s.setFunc(func(v int) { panic(v) })
	s.deliver(1)
	s.deliver(2)
	if p, ok := s.err().(*PanicError); !ok || p.Value != 1 {
		t.Fatalf("err() = %v, want the first panic", s.err())
	}
}
