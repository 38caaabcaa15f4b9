package discord

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"unicode/utf8"

	"github.com/bwmarrin/discordgo"

	"opsbot/bot"
)

// Discord's limits on files: ten to a message, and a request of at most
// 10 MiB of files unless the server is boosted (Discord lowered the default
// from 25 MiB in 2024); an attachment's description holds 1024 characters.
const (
	MaxFiles          = 10
	MaxUpload         = 10 << 20
	maxDescription    = 1024
	maxEmbedsPerReply = 10
)

// Attachment is one entry of a message's attachments list: for a new file,
// its id is the n of its files[n] part.
type Attachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Description string `json:"description,omitempty"`
}

// upload is one file of a multipart request.
type upload struct {
	Name, Type string
	Data       []byte
}

// attach adds a reply's pictures to a rendered message: each one an
// attachment (files[n], with its alt text as description) shown in an
// embed by attachment://NAME, the first in the reply's own embed (or in an
// embed of its own when the reply is plain text), the others each in an
// embed titled with the picture's title. It refuses what Discord would:
// more than ten files, or more than 10 MiB of them.
func attach(m *Message, images []bot.Image) error {
	if len(images) == 0 {
		return nil
	}
	if len(images) > MaxFiles {
		return bot.Permanent(fmt.Errorf("discord: a message carries at most %d files; this reply has %d pictures", MaxFiles, len(images)))
	}
	if size := bot.ImagesSize(images); size > MaxUpload {
		return bot.Permanent(fmt.Errorf("discord: the reply's pictures take %.1f MiB; Discord takes at most %d MiB of files in one message",
			float64(size)/(1<<20), MaxUpload>>20))
	}
	names := bot.FileNames(images)
	budget := maxEmbedTotal
	for _, e := range m.Embeds {
		budget -= embedLength(e)
	}
	for i, img := range images {
		m.Attachments = append(m.Attachments, Attachment{ID: strconv.Itoa(i), Filename: names[i],
			Description: cut(img.Alt, maxDescription)})
		m.Files = append(m.Files, upload{Name: names[i], Type: img.Type, Data: img.Data})
		ref := &discordgo.MessageEmbedImage{URL: "attachment://" + names[i]}
		if i == 0 && len(m.Embeds) > 0 {
			m.Embeds[0].Image = ref
			continue
		}
		if len(m.Embeds) == maxEmbedsPerReply {
			continue // still attached, shown below the embeds
		}
		e := &discordgo.MessageEmbed{Image: ref, Color: severityColour[bot.SeverityInfo]}
		if title := cut(img.Title, maxTitle); utf8.RuneCountInString(title) <= budget {
			e.Title = title
			budget -= utf8.RuneCountInString(title)
		}
		m.Embeds = append(m.Embeds, e)
	}
	return nil
}

// embedLength counts an embed's characters as Discord does for its 6000.
func embedLength(e *discordgo.MessageEmbed) int {
	n := utf8.RuneCountInString(e.Title) + utf8.RuneCountInString(e.Description)
	if e.Footer != nil {
		n += utf8.RuneCountInString(e.Footer.Text)
	}
	if e.Author != nil {
		n += utf8.RuneCountInString(e.Author.Name)
	}
	for _, f := range e.Fields {
		n += utf8.RuneCountInString(f.Name) + utf8.RuneCountInString(f.Value)
	}
	return n
}

// multipartBody is in as payload_json and each file as files[n].
func multipartBody(in any, files []upload) ([]byte, string, error) {
	payload, err := json.Marshal(in)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="payload_json"`)
	h.Set("Content-Type", "application/json")
	pw, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := pw.Write(payload); err != nil {
		return nil, "", err
	}
	for i, f := range files {
		h := textproto.MIMEHeader{}
		// File names come from bot.FileNames: no quotes or line ends.
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="files[%d]"; filename=%q`, i, f.Name))
		ct := f.Type
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.Set("Content-Type", ct)
		fw, err := w.CreatePart(h)
		if err != nil {
			return nil, "", err
		}
		if _, err := fw.Write(f.Data); err != nil {
			return nil, "", err
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}
