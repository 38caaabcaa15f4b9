package slack

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"opsbot/bot"
	"opsbot/config"
)

// FuzzVerify holds Verify to slack-go's verifier on arbitrary headers and
// bodies (with timestamps near now, where both clocks agree), and checks it
// never panics.
func FuzzVerify(f *testing.F) {
	now := time.Now()
	body := []byte("user_id=U1&command=%2Fhelp")
	good := SignatureHeaders(testSecret, now, body)
	f.Add(good.Get("X-Slack-Signature"), int64(0), body, false)
	f.Add(good.Get("X-Slack-Signature"), int64(0), body, true)
	f.Add("v0=", int64(-400), []byte{}, false)
	f.Add("v0=zz", int64(9e15), []byte("\x00"), false)
	v := NewVerifier(config.Secret(testSecret), time.Now)
	f.Fuzz(func(t *testing.T, sig string, skew int64, body []byte, resign bool) {
		if skew > 1e12 || skew < -1e12 {
			skew %= 1e12
		}
		ts := time.Now().Unix() + skew
		h := http.Header{}
		h.Set("X-Slack-Request-Timestamp", strconv.FormatInt(ts, 10))
		h.Set("X-Slack-Signature", sig)
		if resign {
			h = SignatureHeaders(testSecret, time.Unix(ts, 0), body)
		}
		// Stay clear of the window's edge, where a second may pass between
		// the two checks.
		if d := skew; d > 295 && d < 305 || d < -295 && d > -305 {
			return
		}
		mine := v.Verify(h, body)
		theirs := slackGoVerify(h, body, testSecret)
		if (mine == nil) != (theirs == nil) {
			t.Fatalf("Verify = %v, slack-go = %v", mine, theirs)
		}
		if resign && (skew <= 295 && skew >= -295) && mine != nil {
			t.Fatalf("a correctly signed fresh request was refused: %v", mine)
		}
	})
}

// FuzzParseCommand checks the slash command form parser on arbitrary bodies.
func FuzzParseCommand(f *testing.F) {
	f.Add([]byte("user_id=U1&command=%2Fticket&text=new+%22VPN+drops%22+%26amp%3B+%26lt%3B%40U2%26gt%3B&trigger_id=1"))
	f.Add([]byte("command=%2Fhelp"))
	f.Add([]byte("%zz=1&user_id=;"))
	f.Fuzz(func(t *testing.T, body []byte) {
		sc, err := ParseCommand(body)
		if err == nil && (sc.UserID == "" || sc.Command == "") {
			t.Fatalf("accepted a command without user or name: %+v", sc)
		}
		_ = Unescape(sc.Text)
	})
}

// FuzzParseInteraction checks the interaction payload parser.
func FuzzParseInteraction(f *testing.F) {
	f.Add([]byte(`payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U1%22%7D%2C%22actions%22%3A%5B%7B%22value%22%3A%22%2Fhelp%22%7D%5D%7D`))
	f.Add([]byte(`payload=%7B%22type%22%3A%22view_submission%22%7D`))
	f.Add([]byte(`payload=%5B1%2C2%5D`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, run, err := ParseInteraction(body)
		if run && p.Type == "block_actions" && (err != nil || p.User.ID == "" || !p.runnable()) {
			t.Fatalf("would run an incomplete click: %+v %v", p, err)
		}
	})
}

// FuzzMrkdwn checks the one escaping rule: whatever the text, the result
// holds no special mention, channel link or labelled link, and its only
// mentions are those opsbot wrote as @slack:ID.
func FuzzMrkdwn(f *testing.F) {
	for _, s := range []string{"<https://evil.example|Approve>", "<!here> <@U1> <#C1|x>", "https://a.example/x|y", "@slack:W111 &lt;"} {
		f.Add(s)
	}
	dir := bot.NewDirectory(nil)
	f.Fuzz(func(t *testing.T, s string) {
		out := mrkdwn(s)
		for _, bad := range []string{"<!", "<#"} {
			if strings.Contains(out, bad) {
				t.Fatalf("mrkdwn(%q) = %q holds %s", s, out, bad)
			}
		}
		for _, tok := range strings.Split(out, "<")[1:] {
			inner, _, _ := strings.Cut(tok, ">")
			if strings.Contains(inner, "|") {
				t.Fatalf("mrkdwn(%q) = %q holds a labelled link", s, out)
			}
			if strings.HasPrefix(inner, "@") && !strings.Contains(s, "@slack:"+inner[1:]) {
				t.Fatalf("mrkdwn(%q) = %q mentions someone opsbot did not name", s, out)
			}
		}
		_ = Plain(dir, s)
	})
}
