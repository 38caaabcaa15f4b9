package slack

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"opsbot/config"
)

// slackGoVerify is slack-go's own verifier, the reference Verify must agree
// with while the clock is the wall clock.
func slackGoVerify(h http.Header, body []byte, secret string) error {
	sv, err := slack.NewSecretsVerifier(h, secret)
	if err != nil {
		return err
	}
	if _, err := sv.Write(body); err != nil {
		return err
	}
	return sv.Ensure()
}

func TestVerifierAgreesWithSlackGo(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := []byte("token=x&user_id=U1&command=%2Fhelp&text=")
	good := SignatureHeaders(testSecret, now, body)
	with := func(k, v string) http.Header {
		h := good.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		ok     bool
	}{
		{"valid", good, body, true},
		{"body changed", good, append([]byte{}, append(body, 'x')...), false},
		{"no signature", with("X-Slack-Signature", ""), body, false},
		{"no timestamp", with("X-Slack-Request-Timestamp", ""), body, false},
		{"wrong version", with("X-Slack-Signature", "v1="+good.Get("X-Slack-Signature")[3:]), body, false},
		{"short signature", with("X-Slack-Signature", good.Get("X-Slack-Signature")[:40]), body, false},
		{"stale", SignatureHeaders(testSecret, now.Add(-6*time.Minute), body), body, false},
		{"future", SignatureHeaders(testSecret, now.Add(6*time.Minute), body), body, false},
		{"just inside the window", SignatureHeaders(testSecret, now.Add(-4*time.Minute), body), body, true},
		{"other secret", SignatureHeaders("other", now, body), body, false},
		{"huge timestamp", with("X-Slack-Request-Timestamp", strconv.FormatInt(1<<62, 10)), body, false},
	}
	v := NewVerifier(config.Secret(testSecret), time.Now)
	for _, tt := range tests {
		mine := v.Verify(tt.header, tt.body)
		theirs := slackGoVerify(tt.header, tt.body, testSecret)
		if (mine == nil) != tt.ok || (theirs == nil) != tt.ok {
			t.Errorf("%s: Verify = %v, slack-go = %v, want ok=%v", tt.name, mine, theirs, tt.ok)
		}
	}
	if err := NewVerifier("", time.Now).Verify(good, body); err == nil {
		t.Error("an empty signing secret must refuse everything")
	}
}
