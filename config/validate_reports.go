package config

func (v *validator) reports() {
	names := seen{}
	for i, r := range v.c.Reports {
		path := index("reports", i)
		v.uniqueName(names, join(path, "name"), r.Name, "report")
		if r.Cron == "" {
			v.addf(join(path, "cron"), `required: when to post, e.g. "0 8 * * mon" for Mondays at 08:00`)
		} else {
			v.schedule(join(path, "cron"), r.Cron, join(path, "timezone"), r.Timezone)
		}
		v.oneOf(join(path, "period"), r.Period, ReportPeriods...)
		v.team(join(path, "team"), r.Team)
		switch {
		case r.Channel != "":
			v.channelRef(join(path, "channel"), r.Channel)
		case r.Team == "" || v.c.Teams[r.Team].Channel == "":
			v.addf(join(path, "channel"), "required (a name from channels) unless team names a team with a channel")
		}
	}
}
