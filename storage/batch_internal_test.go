package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond until it holds, failing after a generous bound; the
// conditions here are reached within microseconds of the goroutines
// starting, so this orders the test, it does not time it.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (b *batcher[T]) queued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// TestBatcherGroupsWhatArrivesDuringAWrite: callers that arrive while a
// batch is being written go into the next write together, each gets its own
// answer, a failed write fails exactly its batch, and the lead passes on so
// nobody is left waiting.
func TestBatcherGroupsWhatArrivesDuringAWrite(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var batches [][]int
	b := &batcher[int]{max: 5, write: func(_ context.Context, items []int) ([]bool, error) {
		mu.Lock()
		first := len(batches) == 0
		batches = append(batches, append([]int(nil), items...))
		mu.Unlock()
		if first {
			<-release
		}
		oks := make([]bool, len(items))
		for i, v := range items {
			if v == 13 {
				return nil, errors.New("thirteen")
			}
			oks[i] = v%2 == 0
		}
		return oks, nil
	}}

	type answer struct {
		ok  bool
		err error
	}
	answers := make([]answer, 13)
	var wg sync.WaitGroup
	wg.Go(func() { ok, err := b.do(context.Background(), 0); answers[0] = answer{ok, err} })
	waitFor(t, "the first write to start", func() bool { mu.Lock(); defer mu.Unlock(); return len(batches) == 1 })
	for i := 1; i <= 12; i++ {
		wg.Go(func() {
			v := i
			if i == 12 {
				v = 13
			}
			ok, err := b.do(context.Background(), v)
			answers[i] = answer{ok, err}
		})
	}
	waitFor(t, "twelve callers to queue", func() bool { return b.queued() == 12 })
	close(release)
	wg.Wait()

	if len(batches) != 4 {
		t.Fatalf("batches %v: want the first alone, then the twelve queued ones in writes of at most 5", batches)
	}
	seen := map[int]bool{}
	for i, batch := range batches[1:] {
		if len(batch) > 5 {
			t.Errorf("batch %d has %d items, over the maximum of 5", i+1, len(batch))
		}
		for _, v := range batch {
			seen[v] = true
		}
	}
	if len(seen) != 12 {
		t.Errorf("the queued items were written as %v, want each of the twelve once", batches[1:])
	}
	var failedBatch []int
	for _, batch := range batches {
		for _, v := range batch {
			if v == 13 {
				failedBatch = batch
			}
		}
	}
	inFailed := map[int]bool{}
	for _, v := range failedBatch {
		inFailed[v] = true
	}
	for i, a := range answers {
		v := i
		if i == 12 {
			v = 13
		}
		switch {
		case inFailed[v]:
			if a.err == nil {
				t.Errorf("item %d shared a batch with the failing one but got no error", v)
			}
		case a.err != nil:
			t.Errorf("item %d: %v, though its batch did not fail", v, a.err)
		case a.ok != (v%2 == 0):
			t.Errorf("item %d: ok=%v, want %v", v, a.ok, v%2 == 0)
		}
	}
	if b.busy || b.queued() != 0 {
		t.Errorf("after everyone returned: busy=%v queued=%d, want idle and empty", b.busy, b.queued())
	}
}

// receive waits for what a caller of do reports, failing the test if it
// never comes (a caller left waiting for good).
func receive[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: still waiting", what)
		panic("unreachable")
	}
}

// TestBatcherSurvivesAPanickingWrite: a write that panics fails its batch
// with an error; every caller in it is answered and the lead passes on, so
// the batcher keeps working for later callers.
func TestBatcherSurvivesAPanickingWrite(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	writes := 0
	b := &batcher[int]{max: 5, write: func(_ context.Context, items []int) ([]bool, error) {
		mu.Lock()
		writes++
		n := writes
		mu.Unlock()
		switch n {
		case 1:
			<-release
		case 2:
			var m map[int]int
			m[items[0]] = 1 // a bug in a write: assignment to a nil map
		}
		oks := make([]bool, len(items))
		for i := range oks {
			oks[i] = true
		}
		return oks, nil
	}}
	type answer struct {
		ok  bool
		err error
	}
	call := func(v int, out chan<- answer) {
		defer func() {
			if r := recover(); r != nil {
				out <- answer{err: fmt.Errorf("the panic reached caller %d: %v", v, r)}
			}
		}()
		ok, err := b.do(context.Background(), v)
		out <- answer{ok, err}
	}
	first := make(chan answer, 1)
	go call(1, first)
	waitFor(t, "the first write to start", func() bool { mu.Lock(); defer mu.Unlock(); return writes == 1 })
	second := make(chan answer, 2)
	go call(2, second)
	go call(3, second)
	waitFor(t, "two callers to queue", func() bool { return b.queued() == 2 })
	close(release)

	if a := receive(t, "caller 1", first); a.err != nil || !a.ok {
		t.Errorf("caller 1, written before the panic: ok=%v err=%v", a.ok, a.err)
	}
	for range 2 {
		a := receive(t, "a caller whose batch panicked", second)
		if a.err == nil || !strings.Contains(a.err.Error(), "panic: assignment to entry in nil map") {
			t.Errorf("a caller whose batch panicked: ok=%v err=%v, want the panic as an error", a.ok, a.err)
		}
	}
	after := make(chan answer, 1)
	go call(4, after)
	if a := receive(t, "a caller after the panic", after); a.err != nil || !a.ok {
		t.Errorf("a caller after the panic: ok=%v err=%v", a.ok, a.err)
	}
}

// TestBatcherQueuedCallerGivesUp: a caller whose context ends while it
// waits for a batch leaves the queue at once with the context's error, its
// item is not written, and the callers behind it go on as before.
func TestBatcherQueuedCallerGivesUp(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var batches [][]int
	b := &batcher[int]{max: 5, write: func(_ context.Context, items []int) ([]bool, error) {
		mu.Lock()
		first := len(batches) == 0
		batches = append(batches, append([]int(nil), items...))
		mu.Unlock()
		if first {
			<-release
		}
		oks := make([]bool, len(items))
		for i := range oks {
			oks[i] = true
		}
		return oks, nil
	}}
	type answer struct {
		ok  bool
		err error
	}
	call := func(ctx context.Context, v int, out chan<- answer) {
		ok, err := b.do(ctx, v)
		out <- answer{ok, err}
	}
	first, gaveUp, last := make(chan answer, 1), make(chan answer, 1), make(chan answer, 1)
	go call(context.Background(), 1, first)
	waitFor(t, "the first write to start", func() bool { mu.Lock(); defer mu.Unlock(); return len(batches) == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	go call(ctx, 2, gaveUp)
	waitFor(t, "caller 2 to queue", func() bool { return b.queued() == 1 })
	go call(context.Background(), 3, last)
	waitFor(t, "caller 3 to queue", func() bool { return b.queued() == 2 })

	cancel()
	if a := receive(t, "caller 2, whose context ended while queued", gaveUp); !errors.Is(a.err, context.Canceled) {
		t.Errorf("caller 2: ok=%v err=%v, want context.Canceled", a.ok, a.err)
	}
	if n := b.queued(); n != 1 {
		t.Errorf("%d queued after caller 2 gave up, want 1", n)
	}
	close(release)
	for _, c := range []struct {
		name string
		ch   chan answer
	}{{"caller 1", first}, {"caller 3", last}} {
		if a := receive(t, c.name, c.ch); a.err != nil || !a.ok {
			t.Errorf("%s: ok=%v err=%v", c.name, a.ok, a.err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(batches) != "[[1] [3]]" {
		t.Errorf("batches %v, want [[1] [3]]: the item of the caller that gave up is not written", batches)
	}
	if b.busy || b.queued() != 0 {
		t.Errorf("after everyone returned: busy=%v queued=%d, want idle and empty", b.busy, b.queued())
	}
}
