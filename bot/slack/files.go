package slack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"opsbot/bot"
)

// maxFiles is how many pictures one reply may carry: what one
// files.completeUploadExternal shares in one message.
const maxFiles = 10

// How a reply with pictures reaches Slack (Sender.Post):
//
//  1. each picture is uploaded (files.getUploadURLExternal with its file
//     name, length and alt text, then its bytes POSTed to the upload URL);
//     nothing shows yet, and a failure here leaves nothing behind, so the
//     message is simply tried again;
//  2. the words are posted with chat.postMessage, as Block Kit with the
//     message's key in its metadata (Find looks for it), exactly as a reply
//     without pictures;
//  3. files.completeUploadExternal shares the pictures, with their titles,
//     in one message right under it: in the channel (or the thread the
//     message is in), where Slack shows them large, not folded into a
//     thread nobody opens.
//
// When step 3 fails, or its answer is lost, the message is posted and its
// pictures may or may not be: Post returns a plain error, the outbox marks
// the message uncertain, and its next attempt finds the message by key
// (Find) and then calls Complete, which lists the channel's pictures since
// shortly before the message (files.list, files:read) and uploads only
// those whose title is not there. Titles are unique within a reply and
// name their period ("Uptime, week 48"), so another message's pictures do
// not pass for these.

// lookBack is how long before a message Complete looks for its pictures:
// files.list dates a file from its upload, which precedes the words.
const lookBack = 10 * time.Minute

// uploaded is a picture whose bytes Slack has, not yet shared.
type uploaded struct{ id, title string }

// title is what a picture is called on Slack and looked up by.
func title(img bot.Image, name string) string {
	if t := strings.TrimSpace(img.Title); t != "" {
		return t
	}
	return name
}

// upload does step 1 for each picture, named by names (bot.FileNames of
// the whole reply).
func (s *Sender) upload(ctx context.Context, to bot.Target, images []bot.Image, names []string) ([]uploaded, error) {
	if len(images) > maxFiles {
		return nil, bot.Permanent(fmt.Errorf("slack: a message shares at most %d files; this reply has %d pictures", maxFiles, len(images)))
	}
	out := make([]uploaded, 0, len(images))
	for i, img := range images {
		if len(img.Data) == 0 {
			return nil, bot.Permanent(fmt.Errorf("slack: picture %q has no bytes", names[i]))
		}
		u, err := s.api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{
			FileName: names[i], FileSize: len(img.Data), AltTxt: img.Alt})
		if err != nil {
			return nil, fileError("files.getUploadURLExternal for "+to.Name, to, err)
		}
		if err := s.api.UploadToURL(ctx, slack.UploadToURLParameters{UploadURL: u.UploadURL, Filename: names[i],
			Reader: bytes.NewReader(img.Data)}); err != nil {
			return nil, classify("upload of "+names[i], err)
		}
		out = append(out, uploaded{id: u.FileID, title: title(img, names[i])})
	}
	return out, nil
}

// share does step 3: the uploaded pictures in one message in the channel,
// or in the thread when thread is set.
func (s *Sender) share(ctx context.Context, to bot.Target, channel, thread string, files []uploaded) error {
	if len(files) == 0 {
		return nil
	}
	summary := make([]slack.FileSummary, 0, len(files))
	for _, f := range files {
		summary = append(summary, slack.FileSummary{ID: f.id, Title: f.title})
	}
	_, err := s.api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
		Files: summary, Channel: channel, ThreadTimestamp: thread})
	if err != nil {
		return fileError("files.completeUploadExternal to "+to.Name, to, err)
	}
	return nil
}

// fileError classifies a failed files.* call, saying what the operator
// must do when a scope is missing or opsbot is not in the channel.
func fileError(what string, to bot.Target, err error) error {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "missing_scope":
			return bot.Permanent(fmt.Errorf("slack %s: %w; to fix: add the files:write scope to the Slack app "+
				"(docs/slack-app-manifest.yaml has it), reinstall the app, then run opsbot outbox retry", what, err))
		case "not_in_channel", "channel_not_found":
			return bot.Permanent(fmt.Errorf("slack %s: %w; to fix: invite opsbot to %s (/invite @opsbot) so it can share "+
				"pictures there, then run opsbot outbox retry", what, err, to.Name))
		}
	}
	return classify(what, err)
}

// postWithImages is Post for a reply with pictures (see above).
func (s *Sender) postWithImages(ctx context.Context, to bot.Target, channel string, msg bot.Outgoing) (bot.MessageRef, error) {
	files, err := s.upload(ctx, to, msg.Reply.Images, bot.FileNames(msg.Reply.Images))
	if err != nil {
		return bot.MessageRef{}, err
	}
	if strings.HasPrefix(channel, "C") {
		// Sharing files needs membership, where chat:write.public would
		// post without it: join now rather than fail after the words.
		// A refusal is not fatal; completeUploadExternal then says why.
		_ = s.Join(ctx, channel)
	}
	ref, err := s.postWords(ctx, to, channel, msg)
	if err != nil {
		return bot.MessageRef{}, err
	}
	if err := s.share(ctx, to, ref.Channel, to.Thread, files); err != nil {
		// The words are there, the pictures may not be: an error that is
		// no SendError makes the outbox look the message up (Find) and
		// finish it (Complete) rather than post the words again.
		// The cause is kept as text only: a SendError inside would tell
		// the outbox that nothing was posted.
		return bot.MessageRef{}, fmt.Errorf("slack: the message to %s is posted (ts %s) but its pictures may not be: %s", to.Name, ref.ID, err.Error())
	}
	return ref, nil
}

// Complete finishes a message Find found: it uploads the reply's pictures
// that are not yet in the conversation since the message, found by title
// among files.list's images of the channel. Without files:read the lookup
// is impossible: a permanent bot.LookupError says what to add.
func (s *Sender) Complete(ctx context.Context, to bot.Target, ref bot.MessageRef, msg bot.Outgoing) error {
	images := msg.Reply.Images
	if len(images) == 0 {
		return nil
	}
	have, err := s.titles(ctx, to, ref)
	if err != nil {
		return err
	}
	names := bot.FileNames(images)
	var missing []bot.Image
	var missingNames []string
	for i, img := range images {
		if !have[title(img, names[i])] {
			missing = append(missing, img)
			missingNames = append(missingNames, names[i])
		}
	}
	if len(missing) == 0 {
		return nil
	}
	files, err := s.upload(ctx, to, missing, missingNames)
	if err != nil {
		return err
	}
	s.log.Info("sharing the pictures a message still lacks", "to", to.Name, "missing", len(missing), "of", len(images))
	return s.share(ctx, to, ref.Channel, to.Thread, files)
}

// titles are the titles of the images shared in the message's channel
// since the message was posted.
func (s *Sender) titles(ctx context.Context, to bot.Target, ref bot.MessageRef) (map[string]bool, error) {
	params := slack.NewGetFilesParameters()
	params.Channel = ref.Channel
	params.Types = "images"
	if sec, err := strconv.ParseFloat(ref.ID, 64); err == nil && sec > 0 {
		// A file may date from its upload, before the words were posted
		// (step 1 comes first, bounded by the send timeout): look from
		// a margin before them.
		params.TimestampFrom = slack.JSONTime(math.Floor(sec) - lookBack.Seconds())
	}
	have := map[string]bool{}
	for page := 1; page <= 5; page++ {
		params.Page = page
		files, paging, err := s.api.GetFilesContext(ctx, params)
		if err != nil {
			var se slack.SlackErrorResponse
			if errors.As(err, &se) && se.Err == "missing_scope" {
				return nil, bot.Permanent(&bot.LookupError{Err: fmt.Errorf("slack files.list in %s: %w", to.Name, err),
					Fix: "add the files:read scope to the Slack app (docs/slack-app-manifest.yaml has it), reinstall the app, " +
						"then run opsbot outbox retry"})
			}
			return nil, classify("files.list in "+to.Name, err)
		}
		for _, f := range files {
			have[f.Title] = true
		}
		if paging == nil || paging.Pages <= page {
			break
		}
	}
	return have, nil
}
