package statuspage

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"opsbot/config"
	"opsbot/report"
)

// MountReports adds GET /report/{period}.png, behind the configured
// credentials: one chart of the ops digest that /report posts in chat.
// ?chart= picks uptime (the default), incidents or backlog; ?team= limits
// it to one team. The period ends at the start of today, in UTC or the
// team's rotation's time zone.
func (p *Page) MountReports(m Mux, cfg *config.Config, db *gorm.DB) {
	m.Handle("GET /report/{file}", p.Guard(&reportCharts{p: p, cfg: cfg, db: db, teams: report.Teams(cfg)}))
}

type reportCharts struct {
	p     *Page
	cfg   *config.Config
	db    *gorm.DB
	teams []string
}

func (rc *reportCharts) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	period, ok := strings.CutSuffix(r.PathValue("file"), ".png")
	if !ok || !report.IsPeriod(period) {
		rc.p.notFound(w, fmt.Sprintf("%q is not a report; they are /report/day.png, /report/week.png and /report/month.png.", r.PathValue("file")))
		return
	}
	q := r.URL.Query()
	name := q.Get("chart")
	if name == "" {
		name = "uptime"
	}
	if !slices.Contains(report.Charts, name) {
		rc.p.notFound(w, fmt.Sprintf("There is no chart %q; use ?chart=%s.", name, strings.Join(report.Charts, ", ?chart=")))
		return
	}
	team := q.Get("team")
	if team != "" && !slices.Contains(rc.teams, team) {
		rc.p.notFound(w, fmt.Sprintf("There is no team %q.", team))
		return
	}
	loc := time.UTC
	if t, ok := rc.cfg.Teams[team]; ok && t.Rotation != nil {
		if l, err := time.LoadLocation(t.Rotation.Timezone); err == nil {
			loc = l
		}
	}
	now := rc.p.clock.Now()
	per, err := report.NewPeriod(period, now, loc)
	if err == nil {
		var d *report.Digest
		if d, err = report.Compute(r.Context(), rc.db, rc.cfg, per, team, now); err == nil {
			img, cerr := d.Chart(name)
			if err = cerr; err == nil {
				headers(w, "image/png")
				w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", img.Name))
				_, _ = w.Write(img.Data)
				return
			}
		}
	}
	rc.p.log.Error("status page: draw report chart", "period", period, "chart", name, "err", err)
	http.Error(w, "500 internal error: the chart could not be drawn; see the opsbot log", http.StatusInternalServerError)
}
