package discord

import (
	"crypto/ed25519"
	"encoding/hex"
	"strconv"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"

	"opsbot/storage/storagetest"
)

// BenchmarkVerify is the signature check every interaction pays.
func BenchmarkVerify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	now := time.Now()
	v, _ := NewVerifier(hex.EncodeToString(pub), func() time.Time { return now })
	body := slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "VPN drops")))
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := hex.EncodeToString(ed25519.Sign(priv, append([]byte(ts), body...)))
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Verify(sig, ts, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender renders the ticket fixture as an embed with buttons.
func BenchmarkRender(b *testing.B) {
	r := renderFixtures["ticket"]
	b.ReportAllocs()
	for b.Loop() {
		_ = Render(r)
	}
}

// BenchmarkInteraction is one signed slash command end to end through the
// HTTP handler: verify, decode, record the id, rebuild the line, parse,
// run (an audit row written to SQLite), render, answer.
func BenchmarkInteraction(b *testing.B) {
	e := newEnv(b, storagetest.Backends(b)[0])
	b.ReportAllocs()
	for b.Loop() {
		// A new id each time: the same one again is a replay.
		body := slash(aliceID, "note", sub("add", opt("text", discordgo.ApplicationCommandOptionString, "VPN drops"),
			opt("priority", discordgo.ApplicationCommandOptionString, "high")))
		if rec := e.post(b, body, e.Clock.Now(), e.priv); rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
