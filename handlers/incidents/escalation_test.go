package incidents

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/storage"
	"opsbot/storage/storagetest"
)

// escalationRig is a rig whose check escalates first to dave, who holds no
// role, then to the mgmt channel; carol, also without a role, is a
// bystander.
func escalationRig(t *testing.T, b storagetest.Backend) *rig {
	return newRigWith(t, b, func(cfg *config.Config) {
		cfg.People = append(cfg.People, config.Person{Name: "dave"})
		cfg.Checks[0].Escalate.To = []string{"dave", "channel:mgmt"}
	})
}

// dm returns the escalation message to the person, failing when there is
// none or more than one.
func (r *rig) dm(key, person string) bot.Reply {
	r.t.Helper()
	var found []storage.OutboxMessage
	for _, m := range r.env.Outbox() {
		if m.Key == key {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		r.t.Fatalf("%d messages %s in %v", len(found), key, keys(r.env.Outbox()))
	}
	var to struct{ Name string }
	if err := json.Unmarshal([]byte(found[0].Target), &to); err != nil || to.Name != "@"+person {
		r.t.Fatalf("%s goes to %s (%v), want @%s", key, found[0].Target, err, person)
	}
	var reply bot.Reply
	if err := json.Unmarshal([]byte(found[0].Body), &reply); err != nil {
		r.t.Fatal(err)
	}
	return reply
}

// click runs the reply's button with the label as the person, as a click
// on Slack or Discord does.
func (r *rig) click(person string, reply bot.Reply, label string) string {
	r.t.Helper()
	for _, b := range reply.Buttons {
		if b.Label == label {
			return r.env.Text(person, b.Command)
		}
	}
	r.t.Fatalf("no button %q in %+v", label, reply.Buttons)
	return ""
}

// The person an unacknowledged incident escalates to is paged by DM with
// Ack and Resolve buttons; they must be able to use them without the
// oncall role, and acknowledging stops the escalation. Bystanders still
// cannot, nor can the person before they are paged or after the incident
// reopens (its escalation starts over).
func TestEscalationTargetMayAckAndResolve(t *testing.T) {
	t.Parallel()
	const denied = "Only the oncall role or a person incident #1 escalated to may"
	for _, b := range storagetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			t.Parallel()
			r := escalationRig(t, b)
			r.svc.failing.Store(true)
			r.run()
			r.run()
			r.wantOutbox("incident:1:open@log")

			steps := []struct {
				name string
				do   func()
				who  string
				line string // typed by who; empty when clicking
				// click is the label of a button of dave's DM that who clicks.
				click string
				want  string
			}{
				{name: "not paged yet", who: "dave", line: "/incident ack 1", want: denied + " acknowledge it"},
				{name: "a bystander", do: func() { r.tick(10 * time.Minute) }, who: "carol", line: "/incident ack 1", want: denied + " acknowledge it"},
				{name: "a bystander clicking the DM", who: "carol", click: "Ack", want: denied + " acknowledge it"},
				{name: "paged", who: "dave", click: "Ack", want: "Acknowledged incident #1 (web); escalation stopped."},
				{name: "paged, again", who: "dave", line: "/incident ack 1", want: "acknowledged already by @dave"},
				{name: "a bystander resolving", do: func() { r.tick(30 * time.Minute) }, who: "carol", line: "/incident resolve 1", want: denied + " resolve it"},
				{name: "paged, resolving", who: "dave", line: `/incident resolve 1 "restarted the pod"`, want: "Resolved incident #1 (web)."},
				{name: "reopened: not paged for it yet", do: func() { r.run(); r.run() }, who: "dave", line: "/incident ack 1", want: denied + " acknowledge it"},
				{name: "reopened and paged", do: func() { r.tick(10 * time.Minute) }, who: "dave", line: "/incident ack 1", want: "Acknowledged incident #1"},
			}
			var dm bot.Reply
			for _, s := range steps {
				if s.do != nil {
					s.do()
				}
				var txt string
				if s.click != "" {
					if dm.Title == "" {
						dm = r.dm("incident:1:escalate:0:1@log", "dave")
					}
					txt = r.click(s.who, dm, s.click)
				} else {
					txt = r.env.Text(s.who, s.line)
				}
				if !strings.Contains(txt, s.want) {
					t.Fatalf("%s: %s %s%s:\n%s\nwant %q", s.name, s.who, s.line, s.click, txt, s.want)
				}
			}

			// dave's DM offers what dave may do: Ack and Resolve, not Silence.
			var labels []string
			for _, b := range dm.Buttons {
				labels = append(labels, b.Label+": "+b.Command)
			}
			if got := strings.Join(labels, ", "); got != "Ack: /incident ack 1, Resolve: /incident resolve 1" {
				t.Errorf("dave's DM buttons: %s", got)
			}
			// The ack stopped the escalation: the mgmt channel (step 2, due
			// 20m after opening) never heard of the first opening.
			var escalations []string
			for _, k := range keys(r.env.Outbox()) {
				if strings.Contains(k, ":escalate:") {
					escalations = append(escalations, k)
				}
			}
			if got := strings.Join(escalations, " "); got != "incident:1:escalate:0:1@log incident:1:escalate:1:1@log" {
				t.Errorf("escalations: %s", got)
			}
			var acts []string
			for _, a := range r.env.Audit() {
				acts = append(acts, a.Actor+" "+a.Action)
			}
			if got := strings.Join(acts, ", "); got != "dave incident.ack, dave incident.resolve, dave incident.ack" {
				t.Errorf("audit: %s", got)
			}
		})
	}
}
