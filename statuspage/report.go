package statuspage

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
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
	m.Handle("GET /report/{file}", p.Guard(&reportCharts{p: p, cfg: cfg, db: db, teams: report.Teams(cfg),
		cache: map[chartKey]cachedChart{}}))
}

// chartCacheFor is how long a drawn chart is served again. A period ends
// at the start of today, so its figures hardly move during the day; a page
// reloaded every minute should not recompute a digest every minute.
const chartCacheFor = 10 * time.Minute

type reportCharts struct {
	p     *Page
	cfg   *config.Config
	db    *gorm.DB
	teams []string

	mu    sync.Mutex
	cache map[chartKey]cachedChart
}

// chartKey names a chart; end, the period's end, changes at midnight, so
// a new day's chart is never served from the day before.
type chartKey struct {
	period, team, chart string
	end                 int64
}

type cachedChart struct {
	name  string
	data  []byte
	until time.Time
}

// cached returns a chart drawn less than chartCacheFor ago.
func (rc *reportCharts) cached(k chartKey, now time.Time) (cachedChart, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c, ok := rc.cache[k]
	return c, ok && now.Before(c.until)
}

// keep caches a digest's charts, dropping expired ones so the cache stays
// as small as the periods, teams and charts people look at.
func (rc *reportCharts) keep(period, team string, d *report.Digest, now time.Time) error {
	end := d.Period.End.Unix()
	imgs, err := d.Images()
	if err != nil {
		return err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for k, c := range rc.cache {
		if !now.Before(c.until) {
			delete(rc.cache, k)
		}
	}
	for i, img := range imgs {
		rc.cache[chartKey{period, team, report.Charts[i], end}] = cachedChart{name: img.Name, data: img.Data, until: now.Add(chartCacheFor)}
	}
	return nil
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
	k := chartKey{period, team, name, per.End.Unix()}
	c, ok := rc.cached(k, now)
	if err == nil && !ok {
		var d *report.Digest
		if d, err = report.Compute(r.Context(), rc.db, rc.cfg, per, team, now); err == nil {
			err = rc.keep(period, team, d, now)
		}
		c, ok = rc.cached(k, now)
	}
	if err == nil && ok {
		headers(w, "image/png")
		w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", c.name))
		_, _ = w.Write(c.data)
		return
	}
	rc.p.log.Error("status page: draw report chart", "period", period, "chart", name, "err", err)
	http.Error(w, "500 internal error: the chart could not be drawn; see the opsbot log", http.StatusInternalServerError)
}
