package statuspage

import (
	"context"
	"fmt"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// BenchmarkCollect reads the whole page's data from a database holding 20
// checks with a result every minute for 24 hours (28,800 results), 10,000
// tickets (2,000 active), 500 access requests and 10 backup jobs.
func BenchmarkCollect(b *testing.B) {
	for _, be := range storagetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			s := storagetest.Open(b, be)
			ctx := context.Background()
			cfg := config.Default()
			for i := range 20 {
				cfg.Checks = append(cfg.Checks, config.Check{Name: fmt.Sprintf("check-%d", i), Kind: "http"})
			}
			for i := range 10 {
				cfg.Backups.Jobs = append(cfg.Backups.Jobs, config.BackupJob{Name: fmt.Sprintf("job-%d", i), FreshWithin: config.Duration(26 * time.Hour)})
			}
			err := s.Tx(ctx, func(tx *gorm.DB) error {
				var rs []storage.CheckResult
				for _, c := range cfg.Checks {
					for m := range 1440 {
						rs = append(rs, storage.CheckResult{Check: c.Name, At: now.Add(-time.Duration(m) * time.Minute), OK: m%97 != 0, LatencyMS: int64(m % 300)})
					}
				}
				if err := tx.CreateInBatches(rs, 500).Error; err != nil {
					return err
				}
				var ts []storage.Ticket
				for i := range 10000 {
					st := storage.TicketClosed
					if i%5 == 0 {
						st = storage.TicketOpen
					}
					ts = append(ts, storage.Ticket{Summary: "x", Status: st, Active: storage.TicketActive(st), Priority: config.Priorities[i%4],
						Requester: "dave", FiledBy: "dave", CreatedAt: now, UpdatedAt: now, ResolveBreached: i%7 == 0})
				}
				if err := tx.CreateInBatches(ts, 500).Error; err != nil {
					return err
				}
				for i := range 500 {
					r := storage.AccessRequest{Resource: "db", Role: "read", Requester: "dave", State: []string{storage.AccessPending, storage.AccessRevoked}[i%2],
						ApprovalsNeeded: 1, PendingUntil: now, CreatedAt: now, UpdatedAt: now}
					if err := storage.CreateAccessRequest(tx, &r); err != nil {
						return err
					}
				}
				for i := range 10 {
					for j := range 20 {
						fin := now.Add(-time.Duration(j) * time.Hour)
						r := storage.BackupRun{Job: fmt.Sprintf("job-%d", i), Trigger: "schedule", RequestedBy: "schedule", Owner: "o", StartedAt: fin, HeartbeatAt: fin}
						if _, _, err := storage.StartBackupRun(tx, &r); err != nil {
							return err
						}
						r.State, r.FinishedAt = storage.BackupSucceeded, &fin
						if _, err := storage.FinishBackupRun(tx, r); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			src := StoreSources(cfg, s.DB)
			p, err := New(config.StatusPageConfig{Enabled: true}, src, nil, quiet())
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			var size int
			for b.Loop() {
				st := Collect(ctx, src, now, quiet())
				if len(st.Unavailable) > 0 || len(st.Checks) != 20 {
					b.Fatalf("collect: %+v", st.Unavailable)
				}
				page, err := p.RenderPage(st)
				if err != nil {
					b.Fatal(err)
				}
				size = len(page)
			}
			b.ReportMetric(float64(size), "page-bytes")
		})
	}
}
