package statuspage

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// TestStoreSources seeds every area's tables and reads the page's data back
// through StoreSources, on every backend.
func TestStoreSources(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Checks = []config.Check{{Name: "web", Kind: "http"}, {Name: "db", Kind: "tcp"}, {Name: "new", Kind: "dns"}}
	cfg.Backups.Jobs = []config.BackupJob{{Name: "etc", FreshWithin: config.Duration(26 * time.Hour)}, {Name: "wiki"}}
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			s := storagetest.Open(t, b)
			ctx := context.Background()
			err := s.Tx(ctx, func(tx *gorm.DB) error {
				for i := range 8 {
					r := storage.CheckResult{Check: "web", At: now.Add(-time.Duration(i) * time.Hour), OK: i != 3, LatencyMS: int64(10 * (i + 1))}
					if err := storage.AddCheckResult(tx, &r); err != nil {
						return err
					}
				}
				last := now.Add(-time.Minute)
				for _, st := range []storage.CheckState{
					{Check: "web", LastAt: &last, LastOK: true, LastLatency: 10},
					{Check: "db", LastAt: &last, LastError: `Get "https://u:pw@db.example/x?token=t": refused`, LastLatency: 3000, IncidentID: 1},
					{Check: "gone", LastAt: &last},
				} {
					if err := tx.Create(&st).Error; err != nil {
						return err
					}
				}
				acked := now.Add(-time.Hour)
				in := storage.Incident{Check: "db", Kind: "tcp", Channel: "ops", State: storage.IncidentAcked,
					OpenedAt: now.Add(-2 * time.Hour), FailingSince: now.Add(-2 * time.Hour), AckedBy: "bob", AckedAt: &acked, Error: "refused"}
				if err := storage.CreateIncident(tx, &in); err != nil {
					return err
				}
				for _, e := range []storage.IncidentEvent{
					{IncidentID: in.ID, At: in.OpenedAt, Kind: "opened", Detail: "refused"},
					{IncidentID: in.ID, At: acked, Kind: "acknowledged", Actor: "bob"},
				} {
					if err := storage.AddIncidentEvent(tx, &e); err != nil {
						return err
					}
				}
				fin := now.Add(-2 * time.Hour)
				run := storage.BackupRun{Job: "etc", Trigger: "schedule", RequestedBy: "schedule", Owner: "h:1:n", StartedAt: fin.Add(-time.Minute), HeartbeatAt: fin}
				if _, _, err := storage.StartBackupRun(tx, &run); err != nil {
					return err
				}
				run.State, run.FinishedAt, run.DurationMS = storage.BackupSucceeded, &fin, 60000
				if _, err := storage.FinishBackupRun(tx, run); err != nil {
					return err
				}
				tk := storage.Ticket{Summary: "secret ticket text", Status: storage.TicketNew, Priority: "high", Requester: "dave", FiledBy: "dave",
					CreatedAt: now, UpdatedAt: now, ResolveBreached: true}
				if err := storage.CreateTicket(tx, &tk); err != nil {
					return err
				}
				ar := storage.AccessRequest{Resource: "prod-db", Role: "read", Requester: "dave", Email: "dave@example.com", Reason: "private reason",
					State: storage.AccessPending, ApprovalsNeeded: 1, PendingUntil: now, CreatedAt: now, UpdatedAt: now}
				if err := storage.CreateAccessRequest(tx, &ar); err != nil {
					return err
				}
				for _, who := range []string{"erin", "frank"} {
					c := storage.Checklist{Kind: storage.ChecklistOnboard, Person: who, Template: "engineer", StartsOn: now,
						RequestedBy: "alice", State: storage.ChecklistOpen, CreatedAt: now, UpdatedAt: now}
					if err := storage.CreateChecklist(tx, &c, nil); err != nil {
						return err
					}
				}
				// A finished checklist is not counted.
				if _, err := storage.CloseIfFinished(tx, 2, now); err != nil {
					return err
				}
				started := now.Add(-time.Minute)
				for _, r := range []storage.RunbookRun{
					{Runbook: "restart-web", State: storage.RunbookRunning, RequestedBy: "bob", Params: `{"service":"secret-param"}`, CreatedAt: now.Add(-2 * time.Minute), StartedAt: &started},
					{Runbook: "restart-web", State: storage.RunbookSucceeded, RequestedBy: "bob", Params: "{}", CreatedAt: now.Add(-time.Hour)},
				} {
					if err := storage.CreateRunbookRun(tx, &r); err != nil {
						return err
					}
				}
				exp := now.Add(30 * time.Minute)
				for _, c := range []storage.PortChange{
					{Device: "sw-1", IfIndex: 7, Port: "Gi0/7", Action: "down", Previous: "up", State: storage.PortActive, RequestedBy: "bob",
						Reason: "private port reason", DurationS: 3600, CreatedAt: now, ExpiresAt: &exp},
					{Device: "sw-1", IfIndex: 8, Port: "Gi0/8", Action: "down", Previous: "up", State: storage.PortReverted, RequestedBy: "bob", DurationS: 60, CreatedAt: now},
				} {
					if err := storage.CreatePortChange(tx, &c); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			src := StoreSources(cfg, s.DB)
			st := Collect(ctx, src, now, quiet())
			if len(st.Unavailable) != 0 {
				t.Fatalf("unavailable: %v", st.Unavailable)
			}
			if len(st.Checks) != 3 {
				t.Fatalf("checks %+v", st.Checks)
			}
			web, db, fresh := st.Checks[0], st.Checks[1], st.Checks[2]
			if web.State != StateUp || web.UptimePercent == nil || *web.UptimePercent != 87.5 || len(web.Latency) != 48 {
				t.Errorf("web: %+v", web)
			}
			if l := web.Latency[47]; l.Runs != 1 || l.AvgLatencyMS == nil || *l.AvgLatencyMS != 10 {
				t.Errorf("web's newest slice %+v", l)
			}
			if db.State != StateDown || db.IncidentID != 1 || db.LastError != `Get "https://db.example/x?…": refused` || db.UptimePercent != nil {
				t.Errorf("db: %+v", db)
			}
			if fresh.State != StateUnknown || fresh.LastAt != nil {
				t.Errorf("never ran: %+v", fresh)
			}
			if len(st.Incidents) != 1 || st.Incidents[0].AckedBy != "bob" || st.Incidents[0].AgeSeconds != 7200 {
				t.Errorf("incidents %+v", st.Incidents)
			}
			if len(st.Backups) != 2 || st.Backups[0].Freshness != "fresh" || st.Backups[0].LastRun == nil ||
				st.Backups[0].LastRun.DurationSeconds != 60 || st.Backups[1].LastRun != nil || st.Backups[1].Freshness != "none" {
				t.Errorf("backups %+v", st.Backups)
			}
			if st.Tickets.Open != 1 || st.Tickets.Breached != 1 || st.Access.Pending != 1 || st.Access.OpenChecklists != 1 {
				t.Errorf("tickets %+v access %+v", st.Tickets, st.Access)
			}
			if ch := st.Changes; len(ch.Runbooks) != 1 || ch.Runbooks[0].State != storage.RunbookRunning || ch.Runbooks[0].StartedAt == nil ||
				len(ch.Ports) != 1 || ch.Ports[0].Port != "Gi0/7" || !ch.Ports[0].RevertsAt.Equal(now.Add(30*time.Minute)) {
				t.Errorf("changes %+v", ch)
			}
			if st.Overall != "failing" {
				t.Errorf("overall %q", st.Overall)
			}

			mux := http.NewServeMux()
			mount(mux, newPage(t, config.StatusPageConfig{Enabled: true}, src))
			page := get(t, mux, "/", nil).Body.String()
			for _, never := range []string{"secret ticket text", "private reason", "dave@example.com", "private port reason", "secret-param", "pw@", "token=t"} {
				if strings.Contains(page, never) {
					t.Errorf("the page shows %q", never)
				}
			}
			w := get(t, mux, "/incidents/1", nil)
			if w.Code != 200 || !strings.Contains(w.Body.String(), "<b>acknowledged</b> by bob") {
				t.Errorf("/incidents/1: %d\n%s", w.Code, w.Body)
			}
			if w := get(t, mux, "/incidents/2", nil); w.Code != 404 {
				t.Errorf("/incidents/2: %d", w.Code)
			}
		})
	}
}
