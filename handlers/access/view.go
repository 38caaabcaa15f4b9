package access

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"opsbot/bot"
	"opsbot/config"
	"opsbot/storage"
)

// lastErrorField names the card's field with the failed action's output.
const lastErrorField = "Last error"

// card is the message that shows a request: posted to the resource's channel
// and edited as the request moves on.
func (h *Handler) card(r *storage.AccessRequest, approvals []storage.AccessApproval) bot.Reply {
	reply := bot.Reply{
		Title:    fmt.Sprintf("Access request #%d: %s", r.ID, named(r.Resource, r.Role)),
		Text:     outcomeText(r),
		Severity: severity(r.State),
		Fields: []bot.Field{
			{Name: "Requester", Value: mention(r.Requester), Short: true},
			{Name: "Duration", Value: bot.FormatDuration(r.Duration), Short: true},
			{Name: "State", Value: stateText(r.State), Short: true},
			{Name: "Approvals", Value: strings.TrimSpace(fmt.Sprintf("%d of %d %s", len(approvals), r.ApprovalsNeeded, mentions(approverNames(approvals)))), Short: true},
		},
		InChannel: true,
	}
	if r.Reason != "" {
		reply.Fields = append(reply.Fields, bot.Field{Name: "Reason", Value: r.Reason})
	}
	if r.ExpiresAt != nil && r.GrantedAt != nil {
		reply.Fields = append(reply.Fields, bot.Field{Name: "Expires", Value: stamp(*r.ExpiresAt), Short: true})
	}
	if r.ExtendUntil != nil {
		reply.Fields = append(reply.Fields, bot.Field{Name: "Extension asked", Value: "+" + bot.FormatDuration(r.ExtendFor), Short: true})
	}
	if r.CloseReason != "" && r.State != storage.AccessActive {
		reply.Fields = append(reply.Fields, bot.Field{Name: "Closed", Value: fmt.Sprintf("%s by %s", r.CloseReason, mention(r.ClosedBy))})
	}
	if r.LastError != "" {
		reply.Fields = append(reply.Fields, bot.Field{Name: lastErrorField, Value: r.LastError})
	}
	switch {
	case r.State == storage.AccessPending || r.ExtendUntil != nil:
		reply.Buttons = []bot.Button{
			{Label: "Approve", Command: fmt.Sprintf("/access approve %d", r.ID), Style: bot.ButtonPrimary},
			{Label: "Deny", Command: fmt.Sprintf("/access deny %d --reason %q", r.ID, denyButtonReason), Style: bot.ButtonDanger},
		}
	case r.State == storage.AccessAwaitingManual || r.State == storage.AccessManualRevoke:
		reply.Buttons = []bot.Button{{Label: "Done", Command: fmt.Sprintf("/access done %d", r.ID), Style: bot.ButtonPrimary}}
	case r.State == storage.AccessActive:
		reply.Buttons = []bot.Button{{Label: "Revoke", Command: fmt.Sprintf("/access revoke %d", r.ID), Style: bot.ButtonDanger}}
	}
	return reply
}

func (h *Handler) show(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	r, err := h.load(ctx, h.store.DB, req.Int("id"), req.Person, false)
	if err != nil {
		return bot.Reply{}, err
	}
	approvals, err := storage.AccessApprovals(h.store.DB.WithContext(ctx), r.ID, 0)
	if err != nil {
		return bot.Reply{}, err
	}
	reply := h.card(r, approvals)
	reply.InChannel = false
	if res, ok := h.cfg.Resource(r.Resource); !req.Person.HasRole("admin") && !(ok && canApprove(res, req.Person)) {
		// The last error is the grant or revoke action's own output: it is
		// for the approvers who fix it (README), not for the requester.
		reply.Fields = slices.DeleteFunc(reply.Fields, func(f bot.Field) bool { return f.Name == lastErrorField })
	}
	if res, ok := h.cfg.Resource(r.Resource); r.Requester == req.Person.Name || !(ok && canApprove(res, req.Person)) {
		// Approve, Deny and Done are the approvers' buttons; the requester
		// may withdraw a pending request instead.
		reply.Buttons = slices.DeleteFunc(reply.Buttons, func(b bot.Button) bool { return b.Label != "Revoke" })
		if r.Requester == req.Person.Name && r.State == storage.AccessPending {
			reply.Buttons = append(reply.Buttons, bot.Button{Label: "Withdraw", Command: fmt.Sprintf("/access revoke %d", r.ID)})
		}
	}
	for _, a := range approvals {
		line := fmt.Sprintf("%s approved %s", mention(a.Approver), stamp(a.At))
		if a.Note != "" {
			line += ": " + a.Note
		}
		reply.Footer += line + "\n"
	}
	reply.Footer = strings.TrimSpace(reply.Footer)
	return reply, nil
}

func (h *Handler) list(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	n := 0
	for _, f := range []string{"mine", "pending", "active", "failing"} {
		if req.Bool(f) {
			n++
		}
	}
	if n > 1 {
		return bot.Reply{}, bot.Errorf("Give at most one of --mine, --pending, --active, --failing.")
	}
	if req.Bool("failing") {
		return h.listFailing(ctx, req)
	}
	f := storage.AccessFilter{States: openStates, Limit: 200}
	title := "Open access requests"
	switch {
	case req.Bool("mine"):
		f = storage.AccessFilter{Requester: req.Person.Name, Limit: 25}
		title = "Your access requests"
	case req.Bool("pending"):
		f.States, f.ExtensionPending = []string{storage.AccessPending}, true
		title = "Access requests waiting for approval"
	case req.Bool("active"):
		f.States = activeStates
		title = "Active access"
	}
	rows, err := storage.ListAccessRequests(ctx, h.store.DB, f)
	if err != nil {
		return bot.Reply{}, err
	}
	var b strings.Builder
	shown := 0
	menu := bot.Menu{Placeholder: "Show a request", Command: "/access show", Param: "id"}
	for i := range rows {
		r := &rows[i]
		if !h.canSee(r, req.Person) {
			continue
		}
		if shown++; shown > 25 {
			b.WriteString("… more; narrow it with --mine, --pending or --active\n")
			break
		}
		menu.Options = append(menu.Options, bot.Choice{Value: strconv.FormatInt(r.ID, 10),
			Label: fmt.Sprintf("#%d %s for %s: %s", r.ID, named(r.Resource, r.Role), mention(r.Requester), stateText(r.State))})
		fmt.Fprintf(&b, "#%d %s for %s, %s: %s", r.ID, named(r.Resource, r.Role), mention(r.Requester), bot.FormatDuration(r.Duration), stateText(r.State))
		if r.State == storage.AccessActive && r.ExpiresAt != nil {
			fmt.Fprintf(&b, " until %s", stamp(*r.ExpiresAt))
		}
		if r.ExtendUntil != nil {
			fmt.Fprintf(&b, ", +%s waiting for approval", bot.FormatDuration(r.ExtendFor))
		}
		b.WriteString("\n")
	}
	if shown == 0 {
		return bot.Reply{Text: "No access requests to show. Ask for access with /access request RESOURCE --for 8h --reason \"why\"."}, nil
	}
	reply := bot.Reply{Title: title, Text: strings.TrimSpace(b.String())}
	if len(menu.Options) > 1 {
		reply.Menus = []bot.Menu{menu}
	}
	return reply, nil
}

// listFailing lists, for admins, the requests whose grant or revoke action
// is failing, with what the next try is and what went wrong last.
func (h *Handler) listFailing(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	if !req.Person.Known || !req.Person.HasRole("admin") {
		return bot.Reply{}, bot.Forbiddenf("/access list --failing needs the admin role; ask someone who has it.")
	}
	rows, err := storage.ListAccessRequests(ctx, h.store.DB, storage.AccessFilter{Failing: true, Limit: 26})
	if err != nil {
		return bot.Reply{}, err
	}
	if len(rows) == 0 {
		return bot.Reply{Text: "No grant or revoke is failing.", Severity: bot.SeveritySuccess}, nil
	}
	var b strings.Builder
	menu := bot.Menu{Placeholder: "Show a request", Command: "/access show", Param: "id"}
	for i := range rows {
		r := &rows[i]
		if i == 25 {
			b.WriteString("… more\n")
			break
		}
		menu.Options = append(menu.Options, bot.Choice{Value: strconv.FormatInt(r.ID, 10),
			Label: fmt.Sprintf("#%d %s for %s: %s", r.ID, named(r.Resource, r.Role), mention(r.Requester), stateText(r.State))})
		fmt.Fprintf(&b, "#%d %s for %s: %s, %s", r.ID, named(r.Resource, r.Role), mention(r.Requester), stateText(r.State), plural(r.Attempts, "failed attempt"))
		if r.NextAttemptAt != nil {
			fmt.Fprintf(&b, ", next try %s", stamp(*r.NextAttemptAt))
		}
		if r.LastError != "" {
			fmt.Fprintf(&b, "\n    last error: %s", shorten(oneLine(r.LastError), 120))
		}
		b.WriteString("\n")
	}
	reply := bot.Reply{Title: "Failing grants and revokes", Text: strings.TrimSpace(b.String()), Severity: bot.SeverityDanger,
		Footer: "Each is retried with backoff; /access show N has the details."}
	if len(menu.Options) > 1 {
		reply.Menus = []bot.Menu{menu}
	}
	return reply, nil
}

func (h *Handler) resources(_ context.Context, _ *bot.Request) (bot.Reply, error) {
	if len(h.cfg.Access.Resources) == 0 {
		return bot.Text("No resources are configured for access requests."), nil
	}
	var b strings.Builder
	for _, r := range h.cfg.Access.Resources {
		fmt.Fprintf(&b, "%s", r.Name)
		if r.Description != "" {
			fmt.Fprintf(&b, " — %s", r.Description)
		}
		roles := "-"
		if len(r.Roles) > 0 {
			roles = strings.Join(r.Roles, ", ")
		}
		fmt.Fprintf(&b, "\n    roles: %s; up to %s; %s from %s", roles, bot.FormatDuration(time.Duration(r.MaxDuration)),
			plural(r.Approvals, "approval"), approverText(r))
		if r.ReasonRequired {
			b.WriteString("; reason required")
		}
		b.WriteString("\n")
	}
	return bot.Reply{Title: "Resources you can ask access to", Text: strings.TrimSpace(b.String()),
		Footer: `Ask with /access request RESOURCE --for 8h --reason "why"`}, nil
}

func (h *Handler) audit(ctx context.Context, req *bot.Request) (bot.Reply, error) {
	f := storage.AuditFilter{SubjectPrefix: "access:", Limit: 50}
	title := "Access audit log (latest 50)"
	if name := req.String("resource"); name != "" {
		if _, ok := h.cfg.Resource(name); !ok {
			if _, err := h.resource(name); err != nil {
				return bot.Reply{}, err
			}
		}
		f.SubjectPrefix = "access:" + name + ":"
		title = "Access audit log for " + name + " (latest 50)"
	}
	entries, err := storage.ListAudit(ctx, h.store.DB, f)
	if err != nil {
		return bot.Reply{}, err
	}
	if len(entries) == 0 {
		return bot.Text("No access audit entries yet."), nil
	}
	var b strings.Builder
	for _, e := range entries {
		subj := e.Subject
		if parts := strings.Split(subj, ":"); len(parts) == 3 {
			subj = "#" + parts[2] + " " + parts[1]
		}
		fmt.Fprintf(&b, "%s %s %s %s %s\n", e.At.UTC().Format("2006-01-02 15:04"), mention(e.Actor), e.Action, subj, oneLine(e.Detail))
	}
	return bot.Reply{Title: title, Text: strings.TrimSpace(b.String())}, nil
}

// stateText is a state as people read it.
func stateText(s string) string {
	switch s {
	case storage.AccessAwaitingManual:
		return "awaiting manual grant"
	case storage.AccessManualRevoke:
		return "awaiting manual revoke"
	case storage.AccessGrantFailed:
		return "grant failed, retrying"
	case storage.AccessRevokeFailed:
		return "REVOKE FAILED, retrying"
	case storage.AccessExpired:
		return "expired without a decision"
	}
	return s
}

// outcomeText is one sentence about where r stands.
func outcomeText(r *storage.AccessRequest) string {
	switch r.State {
	case storage.AccessPending:
		return fmt.Sprintf("Waiting for approval until %s.", stamp(r.PendingUntil))
	case storage.AccessGranting:
		return "Approved; granting access now."
	case storage.AccessGrantFailed:
		return fmt.Sprintf("Approved, but the grant failed (%s) and is being retried.", plural(r.Attempts, "attempt"))
	case storage.AccessAwaitingManual:
		return fmt.Sprintf("Approved; an approver grants it by hand and confirms with /access done %d.", r.ID)
	case storage.AccessActive:
		if r.ExpiresAt != nil {
			return fmt.Sprintf("Granted to %s until %s.", mention(r.Requester), stamp(*r.ExpiresAt))
		}
		return "Granted."
	case storage.AccessRevoking:
		return "Revoking access now."
	case storage.AccessRevokeFailed:
		return fmt.Sprintf("Revoke failed (%s) and is being retried: access is still in place.", plural(r.Attempts, "attempt"))
	case storage.AccessManualRevoke:
		return fmt.Sprintf("Waiting for an approver to revoke by hand and confirm with /access done %d.", r.ID)
	case storage.AccessRevoked:
		return "Access revoked."
	case storage.AccessDenied:
		return fmt.Sprintf("Denied by %s: %s", mention(r.ClosedBy), r.CloseReason)
	case storage.AccessExpired:
		return "Expired: nobody decided in time."
	case storage.AccessCancelled:
		return "Withdrawn by the requester."
	case storage.AccessFailed:
		return "The grant failed and was cleaned up; nothing is in place."
	}
	return r.State
}

func severity(state string) bot.Severity {
	switch state {
	case storage.AccessPending, storage.AccessGranting, storage.AccessRevoking:
		return bot.SeverityInfo
	case storage.AccessActive:
		return bot.SeveritySuccess
	case storage.AccessAwaitingManual, storage.AccessManualRevoke, storage.AccessGrantFailed:
		return bot.SeverityWarning
	case storage.AccessRevokeFailed, storage.AccessFailed:
		return bot.SeverityDanger
	}
	return bot.SeverityNone
}

func grantedReply(r *storage.AccessRequest) bot.Reply {
	return bot.Reply{Title: fmt.Sprintf("Access granted: #%d %s", r.ID, named(r.Resource, r.Role)), Severity: bot.SeveritySuccess,
		Text:    fmt.Sprintf("You have %s until %s.", grantOf(r.Role, r.Resource), stamp(*r.ExpiresAt)),
		Buttons: []bot.Button{{Label: "Revoke now", Command: fmt.Sprintf("/access revoke %d", r.ID)}}}
}

func revokedReply(r *storage.AccessRequest) bot.Reply {
	if r.State == storage.AccessFailed {
		return bot.Reply{Title: fmt.Sprintf("Access #%d cleaned up", r.ID), Text: fmt.Sprintf("The failed grant of %s was cleaned up.", grantOf(r.Role, r.Resource))}
	}
	return bot.Reply{Title: fmt.Sprintf("Access revoked: #%d %s", r.ID, named(r.Resource, r.Role)),
		Text: fmt.Sprintf("%s has been taken away (%s).", upperFirst(grantOf(r.Role, r.Resource)), r.CloseReason)}
}

// finalRevokeState is where a request ends once its revoke succeeded.
func finalRevokeState(r *storage.AccessRequest) string {
	if r.GaveUp {
		return storage.AccessFailed
	}
	return storage.AccessRevoked
}

func approverNames(as []storage.AccessApproval) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Approver
	}
	return out
}

// approverText says who approves requests for res.
func approverText(res config.Resource) string {
	var parts []string
	if len(res.Approvers) > 0 {
		parts = append(parts, mentions(res.Approvers))
	}
	if res.ApproverRole != "" {
		parts = append(parts, "anyone with the "+res.ApproverRole+" role")
	}
	return strings.Join(parts, " or ")
}

// named is a request's resource and role as a title shows them:
// "prod-db (read)", or "lab" for a resource without roles.
func named(resource, role string) string {
	if role == "" {
		return resource
	}
	return resource + " (" + role + ")"
}

// grantOf is what a request gives, for sentences: "read on prod-db", or
// "access to lab" for a resource without roles.
func grantOf(role, resource string) string {
	if role == "" {
		return "access to " + resource
	}
	return role + " on " + resource
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func mention(name string) string {
	if name == "" || name == system {
		return "opsbot"
	}
	return "@" + name
}

func mentions(names []string) string {
	if len(names) == 0 {
		return ""
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = mention(n)
	}
	return strings.Join(out, ", ")
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func oneLine(s string) string {
	return shorten(strings.Join(strings.Fields(s), " "), 160)
}

// shorten cuts s to n runes, marking the cut with "…".
func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}
