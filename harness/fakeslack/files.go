package fakeslack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// File is one file of the fake: asked for with files.getUploadURLExternal,
// its bytes posted to the upload URL, then shared (or kept private) by
// files.completeUploadExternal.
type File struct {
	ID, Name, Title, Alt string
	// Length is the size declared when the upload URL was asked for.
	Length int
	Data   []byte
	// Uploaded is true once the bytes arrived; Completed once
	// files.completeUploadExternal took the file.
	Uploaded, Completed bool
	// Channel and Thread are where it was shared ("" for a private file);
	// TS is the message that shares it.
	Channel, Thread, TS string
	Created             int64
}

// Request is one call the fake took: the Web API method (or "upload ID"
// for bytes posted to an upload URL) and its form without the token.
type Request struct {
	Method string            `json:"method"`
	Form   map[string]string `json:"form"`
}

// Requests lists every call taken, in order.
func (f *Server) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Transcript is every call taken, in order, as the documentation shows
// them: {"call": method, "form": fields}, with the fields that carry JSON
// (blocks, metadata, files) parsed.
func (f *Server) Transcript() []map[string]any {
	var calls []map[string]any
	for _, req := range f.Requests() {
		form := map[string]any{}
		for k, v := range req.Form {
			var parsed any
			if (strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{")) && json.Unmarshal([]byte(v), &parsed) == nil {
				form[k] = parsed
				continue
			}
			form[k] = v
		}
		calls = append(calls, map[string]any{"call": req.Method, "form": form})
	}
	return calls
}

// Files are the completed files, oldest first: what people see.
func (f *Server) Files() []File {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]File, 0, len(f.files))
	for _, fl := range f.files {
		out = append(out, *fl)
	}
	return out
}

// UploadURLs counts files.getUploadURLExternal calls answered with a URL.
func (f *Server) UploadURLs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.uploadCalls
}

// LoseComplete accepts the next n files.completeUploadExternal calls but
// drops the connection before answering: Slack shared the files, the
// sender never hears so.
func (f *Server) LoseComplete(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loseComplete = n
}

// created is the time of the fake's files and messages: its timestamps all
// fall in second 1700000000 (nextTS).
const created = 1700000000

// getUploadURL is files.getUploadURLExternal: a filename and a positive
// length are required.
func (f *Server) getUploadURL(r *http.Request, reply func(map[string]any), refuse func(string)) {
	name := r.Form.Get("filename")
	n, err := strconv.Atoi(r.Form.Get("length"))
	if name == "" || err != nil || n <= 0 {
		refuse("invalid_arguments")
		return
	}
	if f.uploads == nil {
		f.uploads = map[string]*File{}
	}
	f.seq++
	id := fmt.Sprintf("F%08d", f.seq)
	// Slack dates a file from its upload: before the message that
	// shares it.
	f.uploads[id] = &File{ID: id, Name: name, Alt: r.Form.Get("alt_txt"), Length: n, Created: created - 1}
	f.uploadCalls++
	reply(map[string]any{"ok": true, "upload_url": "http://" + f.addr + "/upload/" + id, "file_id": id})
}

// upload takes a file's bytes at its upload URL: a POST whose body is the
// file, raw or as the "file" part of a multipart form, of exactly the
// length declared. Slack answers "OK - LENGTH" as text.
func (f *Server) upload(w http.ResponseWriter, r *http.Request) {
	if f.mode == Unavailable {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, "/upload/")
	fl := f.uploads[id]
	if r.Method != http.MethodPost || fl == nil || fl.Completed {
		http.Error(w, "unknown upload", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(fl.Length)+1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	data := body
	if mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		data = nil
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, "malformed multipart body", http.StatusBadRequest)
				return
			}
			if p.FormName() == "file" {
				data, _ = io.ReadAll(p)
			}
		}
		if data == nil {
			http.Error(w, "no file part", http.StatusBadRequest)
			return
		}
	}
	if len(data) != fl.Length {
		http.Error(w, fmt.Sprintf("length mismatch: declared %d, sent %d", fl.Length, len(data)), http.StatusBadRequest)
		return
	}
	fl.Data, fl.Uploaded = data, true
	f.requests = append(f.requests, Request{Method: "upload " + id, Form: map[string]string{"bytes": strconv.Itoa(len(data))}})
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "OK - %d", len(data))
}

// completeUpload is files.completeUploadExternal: every file must have
// been asked for and uploaded, not completed before; a channel must be one
// the bot is in. The files are shared in one message (with the blocks or
// initial_comment), into thread_ts when given.
func (f *Server) completeUpload(w http.ResponseWriter, r *http.Request, reply func(map[string]any), refuse func(string)) {
	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(r.Form.Get("files")), &list); err != nil || len(list) == 0 {
		refuse("invalid_arguments")
		return
	}
	for _, it := range list {
		fl := f.uploads[it.ID]
		if fl == nil || !fl.Uploaded || fl.Completed {
			refuse("file_not_found")
			return
		}
	}
	channel := r.Form.Get("channel_id")
	if channel == "" {
		channel = r.Form.Get("channels")
	}
	thread := r.Form.Get("thread_ts")
	if channel != "" && !f.members[channel] {
		if strings.HasPrefix(channel, "D") {
			refuse("channel_not_found")
			return
		}
		refuse("not_in_channel")
		return
	}
	if thread != "" && (channel == "" || f.find(channel, thread) == nil) {
		refuse("invalid_thread_ts")
		return
	}
	if b := r.Form.Get("blocks"); b != "" {
		var blocks []map[string]any
		if json.Unmarshal([]byte(b), &blocks) != nil {
			refuse("invalid_blocks")
			return
		}
	}
	ts := ""
	if channel != "" {
		ts = f.nextTS()
	}
	var shared []any
	var out []map[string]any
	for _, it := range list {
		fl := f.uploads[it.ID]
		fl.Completed, fl.Title, fl.Channel, fl.Thread, fl.TS = true, it.Title, channel, thread, ts
		if fl.Title == "" {
			fl.Title = fl.Name
		}
		f.files = append(f.files, fl)
		shared = append(shared, map[string]any{"id": fl.ID, "name": fl.Name, "title": fl.Title})
		out = append(out, map[string]any{"id": fl.ID, "title": fl.Title})
	}
	if channel != "" {
		m := Message{"type": "message", "ts": ts, "text": r.Form.Get("initial_comment"), "bot_id": "B0OPSBOT", "files": shared}
		if thread != "" {
			m["thread_ts"] = thread
		}
		f.convs[channel] = append(f.convs[channel], m)
	}
	if f.loseComplete > 0 {
		f.loseComplete--
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
	}
	reply(map[string]any{"ok": true, "files": out})
}

// listFiles is files.list: the completed files, newest first, filtered by
// channel, ts_from, ts_to and types=images as Slack does.
func (f *Server) listFiles(r *http.Request, reply func(map[string]any)) {
	channel := r.Form.Get("channel")
	from, _ := strconv.ParseInt(r.Form.Get("ts_from"), 10, 64)
	to, err := strconv.ParseInt(r.Form.Get("ts_to"), 10, 64)
	if err != nil {
		to = -1
	}
	out := []map[string]any{}
	for _, fl := range slices.Backward(f.files) {
		if channel != "" && fl.Channel != channel || fl.Created < from || to >= 0 && fl.Created > to {
			continue
		}
		if t := r.Form.Get("types"); t != "" && t != "all" && !strings.Contains(t, "images") {
			continue
		}
		out = append(out, map[string]any{"id": fl.ID, "name": fl.Name, "title": fl.Title, "created": fl.Created,
			"size": len(fl.Data), "channels": []string{fl.Channel}})
	}
	reply(map[string]any{"ok": true, "files": out,
		"paging": map[string]any{"count": 100, "total": len(out), "page": 1, "pages": 1}})
}
