package discord

import (
	"crypto/ed25519"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVerifySkewSaysWhichWay: a stale request is called old, one from the
// future is called so, each with its distance from now.
func TestVerifySkewSaysWhichWay(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1_800_000_000, 0)
	v, err := NewVerifier(hex.EncodeToString(pub), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{now.Add(-10 * time.Minute), "is 10m0s old"},
		{now.Add(7 * time.Minute), "is 7m0s in the future"},
	} {
		ts := strconv.FormatInt(c.at.Unix(), 10)
		body := []byte(`{"type":1}`)
		sig := hex.EncodeToString(ed25519.Sign(priv, append([]byte(ts), body...)))
		err := v.Verify(sig, ts, body)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("timestamp %s: %v, want it to say %q", ts, err, c.want)
		}
	}
}
