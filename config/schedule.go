package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads 5 fields, or 6 with seconds first, and descriptors such
// as @daily and @every 1h.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

const cronHelp = `use 5 fields such as "0 2 * * *" for 02:00 daily, 6 with seconds first, or @daily`

// ParseSchedule parses a cron schedule the way opsbot runs backup jobs and
// checks: 5 fields, or 6 with seconds first, or a descriptor such as @daily
// or @every 1h, with an optional "CRON_TZ=Europe/Paris " prefix. When spec
// names no time zone, timezone (an IANA name) is used if it is not empty,
// and otherwise the local time zone.
func ParseSchedule(spec, timezone string) (sched cron.Schedule, err error) {
	orig := spec
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, errors.New("empty schedule (" + cronHelp + ")")
	}
	if hasTZ(spec) {
		// cron's parser panics on a time zone prefix with nothing after it.
		if !strings.Contains(spec, " ") {
			return nil, fmt.Errorf(`%q: a time zone prefix needs a space and the schedule after it, e.g. "CRON_TZ=Europe/Paris 0 2 * * *"`, orig)
		}
	} else if timezone != "" {
		spec = "CRON_TZ=" + timezone + " " + spec
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("%q is not a valid schedule (%s)", orig, cronHelp)
		}
	}()
	sched, err = cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%q: %v (%s)", orig, err, cronHelp)
	}
	// cron looks five years ahead; a date that never comes (February 30)
	// gives the zero time.
	if sched.Next(time.Now()).IsZero() {
		return nil, fmt.Errorf("%q never fires: no date matches it (%s)", orig, cronHelp)
	}
	return sched, nil
}

// hasTZ reports whether a cron spec starts with a time zone prefix.
func hasTZ(spec string) bool {
	return strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")
}

// ScheduleNamesSeconds reports whether a cron spec has a seconds field (six
// fields), i.e. says at which second of the minute it runs.
func ScheduleNamesSeconds(spec string) bool {
	f := strings.Fields(spec)
	if len(f) > 0 && hasTZ(f[0]) {
		f = f[1:]
	}
	return len(f) == 6
}
