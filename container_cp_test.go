package main

import (
	"os"
	"testing"
	"time"
)

// TestCopyStreamStalled: a stream that stops moving is noticed after copyStallTimeout, one that moves
// is not, and the watch ends with the copy.
func TestCopyStreamStalled(t *testing.T) {
	defer func(saved time.Duration) { copyStallTimeout = saved }(copyStallTimeout)
	copyStallTimeout = 200 * time.Millisecond
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(r, w)
	stream, done := &copyStream{file: w}, make(chan struct{})
	stalled := stream.stalled(done)
	for i := 0; i < 10; i++ { // moving, for twice the timeout
		stream.Write([]byte("x"))
		time.Sleep(copyStallTimeout / 5)
	}
	select {
	case <-stalled:
		t.Fatal("a moving stream was taken for stalled")
	default:
	}
	select {
	case <-stalled:
	case <-time.After(10 * copyStallTimeout):
		t.Fatal("a stalled stream was not noticed")
	}
	close(done)
	if again := stream.stalled(done); again != nil {
		time.Sleep(2 * copyStallTimeout)
		select {
		case <-again:
			t.Error("the watch went on after the copy")
		default:
		}
	}
}
