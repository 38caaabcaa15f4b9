package bot

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// FuzzRouterParse feeds arbitrary lines through the tokenizer, the binder and
// the router: none of them may panic, and every line gets a reply.
func FuzzRouterParse(f *testing.F) {
	for _, s := range []string{
		`/ticket new "VPN drops every hour" --priority high`,
		`/access request prod-db --role read --for 8h --reason "debug incident #4"`,
		`/ticket assign #12 <@U01ALICE>`, `/help ticket`, `/ticket help`, `/tiket`,
		`/ticket new “smart” --for=1d12h`, `/x "unterminated`, "\x00", `--`, `/ticket new --priority`,
		`/ticket assign 12 <@!100000000000000001> extra`, `/ticket new '' ''`,
	} {
		f.Add(s)
	}
	r := fuzzRouter(f)
	f.Fuzz(func(t *testing.T, line string) {
		call := r.Parse(Incoming{Platform: Shell, Person: Person{Name: "alice"}, Line: line})
		reply := r.Run(context.Background(), call)
		if reply.Text == "" && reply.Title == "" {
			t.Fatalf("empty reply for %q", line)
		}
	})
}

func fuzzRouter(t testing.TB) *Router {
	echo := func(_ context.Context, req *Request) (Reply, error) { return Reply{Text: "ok " + req.Name()}, nil }
	r, err := NewRouter(testDir(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, time.Now, Command{
		Name: "ticket", Summary: "Helpdesk tickets",
		Subs: []Sub{
			{Name: "new", Args: []Param{{Name: "summary", Kind: KindText, Required: true}},
				Flags: []Param{{Name: "priority", Kind: KindChoice, Choices: []string{"low", "normal", "high", "urgent"}},
					{Name: "for", Kind: KindDuration}}, Run: echo},
			{Name: "assign", Args: []Param{{Name: "id", Kind: KindID, Required: true}, {Name: "who", Kind: KindPerson, Required: true}}, Run: echo},
			{Name: "list", Flags: []Param{{Name: "mine", Kind: KindBool}, {Name: "limit", Kind: KindInt}}, Run: echo},
		},
	}, Command{Name: "access", Summary: "Access requests", Subs: []Sub{
		{Name: "request", Args: []Param{{Name: "resource", Kind: KindString, Required: true}},
			Flags: []Param{{Name: "role", Kind: KindString}, {Name: "for", Kind: KindDuration, Required: true}, {Name: "reason", Kind: KindString}}, Run: echo},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
