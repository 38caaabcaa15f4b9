package discord

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
	"opsbot/handlers"
)

func handlersDeps() handlers.Deps { return handlers.Deps{} }

// FuzzInteraction feeds arbitrary bodies and headers through verification,
// and signed arbitrary bodies through decoding and command-line building:
// nothing may panic, an unsigned body never verifies, and a body signed with
// the right key always does.
func FuzzInteraction(f *testing.F) {
	seed := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := seed.Public().(ed25519.PublicKey)
	now := time.Unix(1_800_000_000, 0)
	v, err := NewVerifier(hex.EncodeToString(pub), func() time.Time { return now })
	if err != nil {
		f.Fatal(err)
	}
	table := map[string]bot.Command{}
	for _, c := range testCommands(handlers.Deps{}, nil) {
		table[c.Name] = c
	}
	f.Add([]byte(`{"type":1}`), "00", "1800000000")
	f.Add(slash(aliceID, "note"), "", "")
	f.Add(click(bobID, "/note close 1"), "zz", "x")
	seeds, _ := filepath.Glob("testdata/payloads/*.json")
	for _, name := range seeds {
		var fx payloadFixture
		if raw, err := os.ReadFile(name); err == nil && json.Unmarshal(raw, &fx) == nil {
			f.Add([]byte(fx.Payload), "", "")
		}
	}
	f.Fuzz(func(t *testing.T, body []byte, sig, ts string) {
		_ = v.Verify(sig, ts, body)
		good := strconv.FormatInt(now.Unix(), 10)
		if v.Verify(hex.EncodeToString(make([]byte, 64)), good, body) == nil {
			t.Fatal("a zero signature verified")
		}
		signed := ed25519.Sign(seed, append([]byte(good), body...))
		if err := v.Verify(hex.EncodeToString(signed), good, body); err != nil {
			t.Fatalf("a good signature failed: %v", err)
		}
		it, err := DecodeInteraction(body)
		if !hasComponents(body) {
			// The single decode agrees with the cleaning one.
			clean, cerr := decodeCleaned(body)
			if (err == nil) != (cerr == nil) || err == nil && !reflect.DeepEqual(it, clean) {
				t.Fatalf("decoded once: %+v, %v; cleaned: %+v, %v", it, err, clean, cerr)
			}
		}
		if err != nil {
			return
		}
		_, _ = invoker(it)
		if m, ok := it.Data.(ModalSubmit); ok {
			_ = m.Values()
		}
		if data, ok := it.Data.(discordgo.ApplicationCommandInteractionData); ok {
			_, _ = CommandLine(table, data)
		}
	})
}

// FuzzQuote checks that Quote hands the parser back exactly the string.
func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", `a"b`, `\`, "”", "“", "x y", "--flag"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) || len(s) > 2000 {
			return
		}
		for _, r := range s {
			if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
				return
			}
		}
		toks, err := bot.Tokenize(Quote(s))
		if err != nil || len(toks) != 1 || toks[0].Text != s || !toks[0].Quoted {
			t.Fatalf("%q -> %q -> %+v %v", s, Quote(s), toks, err)
		}
	})
}

// FuzzMarkdown checks the one escaping rule: whatever the text, outside
// bare URLs nothing in the result opens Markdown, and no line starts a
// heading, quote or list.
func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{"[Click](https://evil.example)", "# h\n> q\n-# s\n1. x", "||s|| **b** `c` <@1> \\*", "@discord:123", "http://[", "https://a\\\\*"} {
		f.Add(s)
	}
	mention := regexp.MustCompile(`<@[0-9]{1,20}>`)
	block := regexp.MustCompile(`(?m)^[ \t]*(#|>|-|\+|[0-9]+\.)`)
	f.Fuzz(func(t *testing.T, s string) {
		md := markdown(s)
		if block.MatchString(md) {
			t.Fatalf("markdown(%q) starts a block: %q", s, md)
		}
		out := mention.ReplaceAllString(bareURL.ReplaceAllString(md, ""), "")
		if unescaped.MatchString(out) {
			t.Fatalf("markdown(%q) leaves markup live: %q", s, md)
		}
	})
}
