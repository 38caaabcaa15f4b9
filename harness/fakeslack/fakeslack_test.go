package fakeslack

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// call posts a Web API method with the token and returns the JSON answer
// and the HTTP status.
func call(t *testing.T, f *Server, token, method string, form url.Values) (map[string]any, *http.Response) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL()+method, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL.RawQuery = form.Encode()
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return out, resp
}

// TestRefusesLikeSlack: the fake refuses what Slack refuses.
func TestRefusesLikeSlack(t *testing.T) {
	t.Parallel()
	f := New(t, "xoxb-test")
	post := func(channel, thread string) string {
		out, _ := call(t, f, "xoxb-test", "chat.postMessage", url.Values{"channel": {channel}, "text": {"hi"}, "thread_ts": {thread},
			"metadata": {`{"event_type":"opsbot_message","event_payload":{"key":"k-` + channel + thread + `"}}`}})
		if out["ok"] != true {
			t.Fatalf("post to %s: %v", channel, out)
		}
		return out["ts"].(string)
	}
	if out, _ := call(t, f, "xoxb-wrong", "chat.postMessage", url.Values{"channel": {"C1"}}); out["error"] != "invalid_auth" {
		t.Errorf("wrong token: %v", out)
	}
	// chat:write.public posts where the bot is not a member; history there
	// is refused.
	root := post("C1", "")
	if out, _ := call(t, f, "xoxb-test", "conversations.history", url.Values{"channel": {"C1"}}); out["error"] != "not_in_channel" {
		t.Errorf("history outside the channel: %v", out)
	}
	if out, _ := call(t, f, "xoxb-test", "conversations.join", url.Values{"channel": {"C1"}}); out["ok"] != true {
		t.Fatalf("join: %v", out)
	}
	reply := post("C1", root)
	out, _ := call(t, f, "xoxb-test", "conversations.history", url.Values{"channel": {"C1"}, "include_all_metadata": {"true"}})
	if msgs, _ := out["messages"].([]any); len(msgs) != 1 || msgs[0].(map[string]any)["metadata"] == nil {
		t.Errorf("history holds the root alone, with metadata: %v", out)
	}
	out, _ = call(t, f, "xoxb-test", "conversations.replies", url.Values{"channel": {"C1"}, "ts": {root}})
	if msgs, _ := out["messages"].([]any); len(msgs) != 2 || msgs[1].(map[string]any)["ts"] != reply {
		t.Errorf("replies of the root: %v", out)
	}
	if out, _ := call(t, f, "xoxb-test", "conversations.replies", url.Values{"channel": {"C1"}, "ts": {"1.000001"}}); out["error"] != "thread_not_found" {
		t.Errorf("replies of an unknown ts: %v", out)
	}
	if out, _ := call(t, f, "xoxb-test", "chat.update", url.Values{"channel": {"C1"}, "ts": {"1.000001"}, "text": {"x"}}); out["error"] != "message_not_found" {
		t.Errorf("update of an unknown message: %v", out)
	}
	if out, _ := call(t, f, "xoxb-test", "chat.update", url.Values{"channel": {"C1"}, "ts": {root}, "text": {"x"}}); out["ok"] != true {
		t.Errorf("update of its own message: %v", out)
	}
	// A private channel nobody invited it to.
	if out, _ := call(t, f, "xoxb-test", "chat.postMessage", url.Values{"channel": {"G1"}, "text": {"x"}}); out["error"] != "not_in_channel" {
		t.Errorf("post to a private channel it is not in: %v", out)
	}
	// A scope the manifest requests, removed.
	open, _ := call(t, f, "xoxb-test", "conversations.open", url.Values{"users": {"U1"}})
	dm := open["channel"].(map[string]any)["id"].(string)
	if out, _ := call(t, f, "xoxb-test", "conversations.history", url.Values{"channel": {dm}}); out["ok"] != true {
		t.Errorf("DM history with the manifest's scopes: %v", out)
	}
	f.RemoveScope("im:history")
	if out, _ := call(t, f, "xoxb-test", "conversations.history", url.Values{"channel": {dm}}); out["error"] != "missing_scope" || out["needed"] != "im:history" {
		t.Errorf("DM history without im:history: %v", out)
	}
	f.Limit(1, "30")
	if _, resp := call(t, f, "xoxb-test", "chat.postMessage", url.Values{"channel": {"C1"}}); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "30" {
		t.Errorf("rate limit: HTTP %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := f.Posts(); got["k-C1"] != 1 || got["k-C1"+root] != 1 {
		t.Errorf("posts counted %v", got)
	}
}

// TestManifestScopes: the fake grants what the manifest requests, which
// includes every scope opsbot's lookups and joins need.
func TestManifestScopes(t *testing.T) {
	t.Parallel()
	scopes, err := ManifestScopes()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, s := range scopes {
		have[s] = true
	}
	for _, s := range []string{"chat:write", "chat:write.public", "im:write", "im:history", "channels:history", "groups:history", "channels:join"} {
		if !have[s] {
			t.Errorf("docs/slack-app-manifest.yaml does not request %s", s)
		}
	}
}

// TestUploadFlowRefusesLikeSlack: the external upload flow refuses a
// length that does not match, an unknown or not yet uploaded file, a file
// completed twice, a channel the bot is not in, and a token without
// files:write; files.list needs files:read.
func TestUploadFlowRefusesLikeSlack(t *testing.T) {
	t.Parallel()
	f := New(t, "xoxb-test")
	f.AddMember("C0OPS")
	ask := func(name string, n int) (string, string) {
		out, _ := call(t, f, "xoxb-test", "files.getUploadURLExternal", url.Values{"filename": {name}, "length": {strconv.Itoa(n)}})
		if out["ok"] != true {
			t.Fatalf("getUploadURLExternal: %v", out)
		}
		return out["upload_url"].(string), out["file_id"].(string)
	}
	send := func(u string, body string) int {
		resp, err := http.Post(u, "application/octet-stream", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	complete := func(channel string, ids ...string) string {
		var list []map[string]string
		for _, id := range ids {
			list = append(list, map[string]string{"id": id, "title": "t-" + id})
		}
		b, _ := json.Marshal(list)
		out, _ := call(t, f, "xoxb-test", "files.completeUploadExternal", url.Values{"files": {string(b)}, "channel_id": {channel}})
		if out["ok"] == true {
			return "ok"
		}
		return out["error"].(string)
	}
	if out, _ := call(t, f, "xoxb-test", "files.getUploadURLExternal", url.Values{"filename": {"a.png"}}); out["error"] != "invalid_arguments" {
		t.Errorf("no length: %v", out)
	}
	u1, id1 := ask("a.png", 5)
	if code := send(u1, "1234"); code != http.StatusBadRequest {
		t.Errorf("a short upload: HTTP %d", code)
	}
	if got := complete("C0OPS", id1); got != "file_not_found" {
		t.Errorf("completing a file never uploaded: %s", got)
	}
	if got := complete("C0OPS", "F0NOPE"); got != "file_not_found" {
		t.Errorf("completing an unknown file: %s", got)
	}
	if code := send(u1, "12345"); code != http.StatusOK {
		t.Fatalf("upload: HTTP %d", code)
	}
	if got := complete("C0ELSE", id1); got != "not_in_channel" {
		t.Errorf("sharing where the bot is not: %s", got)
	}
	if got := complete("C0OPS", id1); got != "ok" {
		t.Fatalf("complete: %s", got)
	}
	if got := complete("C0OPS", id1); got != "file_not_found" {
		t.Errorf("completing twice: %s", got)
	}
	if files := f.Files(); len(files) != 1 || string(files[0].Data) != "12345" || files[0].Title != "t-"+id1 || files[0].Channel != "C0OPS" {
		t.Fatalf("files %+v", files)
	}
	if out, _ := call(t, f, "xoxb-test", "files.list", url.Values{"channel": {"C0OPS"}, "types": {"images"}}); len(out["files"].([]any)) != 1 {
		t.Errorf("files.list: %v", out)
	}
	f.RemoveScope("files:read")
	if out, _ := call(t, f, "xoxb-test", "files.list", url.Values{"channel": {"C0OPS"}}); out["error"] != "missing_scope" {
		t.Errorf("files.list without files:read: %v", out)
	}
	f.RemoveScope("files:write")
	if out, _ := call(t, f, "xoxb-test", "files.getUploadURLExternal", url.Values{"filename": {"a.png"}, "length": {"1"}}); out["error"] != "missing_scope" || out["needed"] != "files:write" {
		t.Errorf("without files:write: %v", out)
	}
}
