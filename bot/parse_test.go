package bot

import (
	"strings"
	"testing"
	"time"

	"opsbot/config"
)

func TestTokenize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line string
		want []string
	}{
		{`/ticket new "VPN drops" --priority high`, []string{"/ticket", "new", "VPN drops", "--priority", "high"}},
		{`a 'single quoted' b`, []string{"a", "single quoted", "b"}},
		{`“smart quotes” too`, []string{"smart quotes", "too"}},
		{`‘smart single’`, []string{"smart single"}},
		{`"escaped \" quote" "back\\slash"`, []string{`escaped " quote`, `back\slash`}},
		{`--reason="disk full" x`, []string{"--reason=disk full", "x"}},
		{`printer doesn't work`, []string{"printer", "doesn't", "work"}},
		{`'tis fine`, []string{"'tis", "fine"}},
		{"  spaced\tout \n words ", []string{"spaced", "out", "words"}},
		{`""`, []string{""}},
		{``, nil},
	}
	for _, tt := range tests {
		toks, err := Tokenize(tt.line)
		if err != nil {
			t.Errorf("Tokenize(%q): %v", tt.line, err)
			continue
		}
		var got []string
		for _, tok := range toks {
			got = append(got, tok.Text)
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func TestTokenizeErrors(t *testing.T) {
	t.Parallel()
	for _, line := range []string{`/ticket new "never closed`, "a\x00b", "bad \xff utf8", strings.Repeat("x", MaxLineLength+1)} {
		if _, err := Tokenize(line); err == nil {
			t.Errorf("Tokenize(%q) succeeded, want an error", line)
		} else if _, ok := AsUserError(err); !ok {
			t.Errorf("Tokenize(%q) error %v is not a user error", line, err)
		}
	}
}

func TestQuotedFlagIsPositional(t *testing.T) {
	t.Parallel()
	toks, err := Tokenize(`"--priority" x`)
	if err != nil || !toks[0].Quoted {
		t.Fatalf("quoted token not marked: %+v %v", toks, err)
	}
}

func testDir() *Directory {
	return NewDirectory([]config.Person{
		{Name: "alice", SlackID: "U01ALICE", DiscordID: "100000000000000001", Roles: []string{"helpdesk"}},
		{Name: "bob", SlackID: "U02BOB", DiscordID: "100000000000000002"},
	})
}

func TestBindValues(t *testing.T) {
	t.Parallel()
	sub := Sub{
		Args: []Param{{Name: "id", Kind: KindID, Required: true}, {Name: "who", Kind: KindPerson}},
		Flags: []Param{
			{Name: "for", Kind: KindDuration}, {Name: "mine", Kind: KindBool},
			{Name: "priority", Kind: KindChoice, Choices: []string{"low", "high"}}, {Name: "limit", Kind: KindInt},
		},
	}
	b := binder{dir: testDir()}
	tests := []struct {
		line  string
		check func(v map[string]any) bool
	}{
		{`#12 <@U01ALICE>`, func(v map[string]any) bool { return v["id"] == int64(12) && v["who"].(Person).Name == "alice" }},
		{`12 <@U02BOB|bob>`, func(v map[string]any) bool { return v["who"].(Person).Name == "bob" }},
		{`12 <@100000000000000001>`, func(v map[string]any) bool { return v["who"].(Person).Name == "alice" }},
		{`12 <@!100000000000000002>`, func(v map[string]any) bool { return v["who"].(Person).Name == "bob" }},
		{`12 @Alice`, func(v map[string]any) bool { return v["who"].(Person).Name == "alice" }},
		{`12 <@U999NEW>`, func(v map[string]any) bool {
			p := v["who"].(Person)
			return p.Name == "slack:U999NEW" && !p.Known
		}},
		{`12 --for 1d12h`, func(v map[string]any) bool { return v["for"] == 36*time.Hour }},
		{`12 --for=30m --mine`, func(v map[string]any) bool { return v["for"] == 30*time.Minute && v["mine"] == true }},
		{`12 --mine=false`, func(v map[string]any) bool { return v["mine"] == false }},
		{`12 --priority HIGH --limit 5`, func(v map[string]any) bool { return v["priority"] == "high" && v["limit"] == int64(5) }},
	}
	for _, tt := range tests {
		toks, err := Tokenize(tt.line)
		if err != nil {
			t.Fatal(err)
		}
		v, err := b.bind(sub, toks)
		if err != nil {
			t.Errorf("bind(%q): %v", tt.line, err)
			continue
		}
		if !tt.check(v) {
			t.Errorf("bind(%q) = %v", tt.line, v)
		}
	}
}

func TestBindErrors(t *testing.T) {
	t.Parallel()
	sub := Sub{
		Args:  []Param{{Name: "id", Kind: KindID, Required: true}, {Name: "who", Kind: KindPerson}},
		Flags: []Param{{Name: "for", Kind: KindDuration}, {Name: "priority", Kind: KindChoice, Choices: []string{"low", "high"}}},
	}
	b := binder{dir: testDir()}
	tests := []struct{ line, want string }{
		{``, "missing N"},
		{`abc`, `must be a number such as 12 or #12, not "abc"`},
		{`0`, "must be a number"},
		{`-3`, "must be a number"},
		{`12 @carol`, `nobody called "@carol"`},
		{`12 @alcie`, "did you mean @alice?"},
		{`12 --for 7x`, "must be a duration"},
		{`12 --for`, "--for needs a value"},
		{`12 --prority high`, "did you mean --priority?"},
		{`12 --priority extreme`, "must be one of low, high"},
		{`12 --for 1h --for 2h`, "given twice"},
		{`12 @bob extra`, `unexpected "extra" after @PERSON; put text with spaces in quotes, options as --NAME VALUE`},
		{`12 @bob --priority high 2h`, `unexpected "2h" (did you mean --for 2h?)`},
		{`12 <@>`, "not a mention"},
	}
	for _, tt := range tests {
		toks, _ := Tokenize(tt.line)
		_, err := b.bind(sub, toks)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("bind(%q) = %v, want error containing %q", tt.line, err, tt.want)
		}
	}
}

func TestTextTakesTheRest(t *testing.T) {
	t.Parallel()
	sub := Sub{Args: []Param{{Name: "id", Kind: KindID, Required: true}, {Name: "text", Kind: KindText, Required: true}}}
	toks, _ := Tokenize(`12 the printer is on fire`)
	v, err := binder{dir: testDir()}.bind(sub, toks)
	if err != nil || v["text"] != "the printer is on fire" {
		t.Fatalf("got %v, %v", v, err)
	}
	toks, _ = Tokenize(`12 "  "`)
	if _, err := (binder{dir: testDir()}).bind(sub, toks); err == nil {
		t.Fatal("blank text accepted")
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 90 * time.Minute: "1h30m", 50 * time.Hour: "2d2h", 24 * time.Hour: "1d",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestClosest(t *testing.T) {
	t.Parallel()
	cands := []string{"ticket", "access", "device", "backup", "help"}
	for word, want := range map[string]string{"tiket": "ticket", "acess": "access", "dev": "device", "zzzzzz": "", "hlep": "help"} {
		if got := Closest(word, cands); got != want {
			t.Errorf("Closest(%q) = %q, want %q", word, got, want)
		}
	}
}

// TestHostileInput covers what people paste into chat: long lines counted
// in characters, invisible-only text, direction overrides that would flip
// the rest of a list line, numbers too large to be records, flags left
// without a value.
func TestHostileInput(t *testing.T) {
	t.Parallel()
	sub := Sub{
		Args: []Param{{Name: "id", Kind: KindID, Required: true}, {Name: "text", Kind: KindText, Required: true}},
		Flags: []Param{{Name: "reason", Kind: KindString}, {Name: "priority", Kind: KindChoice, Choices: []string{"low", "high"}},
			{Name: "limit", Kind: KindInt}, {Name: "category", Kind: KindString}, {Name: "for", Kind: KindDuration},
			{Name: "who", Kind: KindPerson}},
	}
	b := binder{dir: testDir()}
	accept := []struct {
		line  string
		check func(v map[string]any) bool
	}{
		// 4,000 two-byte letters are 4,000 characters: under the limit.
		{`1 "` + strings.Repeat("é", 4000) + `"`, func(v map[string]any) bool { return len([]rune(v["text"].(string))) == 4000 }},
		{"1 ok --reason \"\u200b\u2060 \u200b\"", func(v map[string]any) bool { return v["reason"] == "" }},
		{"1 family \U0001F468\u200d\U0001F469\u200d\U0001F467", func(v map[string]any) bool {
			return v["text"] == "family \U0001F468\u200d\U0001F469\u200d\U0001F467"
		}},
		{"1 שלום עולם", func(v map[string]any) bool { return v["text"] == "שלום עולם" }},
		{"1 x --who <@18446744073709551615>", func(v map[string]any) bool { return v["who"].(Person).Name == "discord:18446744073709551615" }},
		{"1 x --for 1.5s", func(v map[string]any) bool { return v["for"] == 1500*time.Millisecond }},
	}
	for _, tt := range accept {
		toks, err := Tokenize(tt.line)
		if err != nil {
			t.Errorf("Tokenize(%.40q): %v", tt.line, err)
			continue
		}
		v, err := b.bind(sub, toks)
		if err != nil || !tt.check(v) {
			t.Errorf("bind(%.40q) = %v, %v", tt.line, v, err)
		}
	}
	refuse := []struct{ line, want string }{
		{strings.Repeat("é", MaxLineLength+1), "8001 characters long; the limit is 8000"},
		{"1 \u200b", "must not be empty"},
		{"1 \"\u200b\u200b\ufeff\"", "must not be empty"},
		{"1 \u202eevil", "direction"},
		{"1 \u2066isolate\u2069", "direction"},
		{"#99999999999999999999 x", `#99999999999999999999 is too large`},
		{"1 x --limit 99999999999999999999", "--limit: 99999999999999999999 is too large"},
		{"1 x --who <@99999999999999999999>", "is not a mention of a person"},
		{"1 x --who @discord:18446744073709551616", "nobody called"},
		{"1 x --for 1ns", `--for must be at least 1s, not "1ns"`},
		{"1 x --for 500ms", `--for must be at least 1s, not "500ms"`},
		{"1 x --priority --category chairs", "--priority needs a value"},
		{"1 use --forcefully please", `put text that has "--" in quotes`},
	}
	for _, tt := range refuse {
		toks, err := Tokenize(tt.line)
		if err == nil {
			_, err = b.bind(sub, toks)
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.40q: got %v, want an error containing %q", tt.line, err, tt.want)
			continue
		}
		if _, ok := AsUserError(err); !ok {
			t.Errorf("%.40q: %v is not a user error", tt.line, err)
		}
	}
}
