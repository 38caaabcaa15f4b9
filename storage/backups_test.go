package storage_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/storage"
	"opsbot/storage/storagetest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func start(t *testing.T, s *storage.Store, job, owner string) (bool, storage.BackupRun, storage.BackupRun) {
	t.Helper()
	r := storage.BackupRun{Job: job, Trigger: "manual", RequestedBy: "alice", Owner: owner, StartedAt: t0, HeartbeatAt: t0}
	var ok bool
	var running storage.BackupRun
	err := s.Tx(context.Background(), func(tx *gorm.DB) error {
		var err error
		ok, running, err = storage.StartBackupRun(tx, &r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ok, r, running
}

func TestBackupRunOnePerJob(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			ok, first, _ := start(t, s, "etc", "a")
			if !ok || first.ID == 0 {
				t.Fatalf("first start: %v %+v", ok, first)
			}
			ok, _, running := start(t, s, "etc", "b")
			if ok || running.ID != first.ID {
				t.Fatalf("second start: ok=%v running=%+v, want refusal naming #%d", ok, running, first.ID)
			}
			if ok, other, _ := start(t, s, "db", "b"); !ok || other.ID == first.ID {
				t.Fatalf("another job: %v %+v", ok, other)
			}
			code := 0
			fin := first
			fin.State, fin.ExitCode, fin.FinishedAt = storage.BackupSucceeded, &code, &t0
			if err := s.Tx(context.Background(), func(tx *gorm.DB) error {
				ok, err := storage.FinishBackupRun(tx, fin)
				if !ok {
					return errors.New("not finished")
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if ok, again, _ := start(t, s, "etc", "b"); !ok || again.ID == first.ID {
				t.Fatalf("start after finish: %v %+v", ok, again)
			}
			last, err := storage.LatestBackupRun(context.Background(), s.DB, "etc", storage.BackupSucceeded)
			if err != nil || last.ID != first.ID {
				t.Fatalf("last success = %+v, %v", last, err)
			}
		})
	}
}

// TestBackupRunOnePerJobAcrossStores races two stores (two replicas) on
// one database to start the same job.
func TestBackupRunOnePerJobAcrossStores(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			stores := []*storage.Store{storagetest.Open(t, b), storagetest.Open(t, b)}
			const n = 8
			var wg sync.WaitGroup
			results := make(chan bool, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ok, _, _ := start(t, stores[i%2], "etc", "owner")
					results <- ok
				}()
			}
			wg.Wait()
			close(results)
			started := 0
			for ok := range results {
				if ok {
					started++
				}
			}
			if started != 1 {
				t.Fatalf("%d runs started, want 1", started)
			}
		})
	}
}

func TestBackupScheduleCompareAndSwap(t *testing.T) {
	t.Parallel()
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			ctx := context.Background()
			if err := storage.InitBackupSchedule(ctx, s.DB, "etc", t0); err != nil {
				t.Fatal(err)
			}
			if err := storage.InitBackupSchedule(ctx, s.DB, "etc", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			sc, err := storage.GetBackupSchedule(ctx, s.DB, "etc")
			if err != nil || !sc.LastAt.Equal(t0) {
				t.Fatalf("schedule = %+v, %v", sc, err)
			}
			for i, want := range []bool{true, false} {
				ok, err := storage.AdvanceBackupSchedule(s.DB, sc, t0.Add(time.Minute))
				if err != nil || ok != want {
					t.Fatalf("advance %d = %v, %v; want %v", i, ok, err, want)
				}
			}
		})
	}
}
