package bot

import (
	"fmt"
	"mime"
	"path"
	"strings"
)

// maxFileName bounds a file name opsbot gives a picture, extension included.
const maxFileName = 64

// FileNames are the names to give a reply's pictures on a platform or on
// disk, in order: each Image.Name reduced to letters, digits, '-', '_' and
// '.', so that no name can reach out of a folder ("../x", "a/b", a leading
// dot) or break Discord's attachment:// references; with the extension of
// its media type when it has none ("image/png": ".png"); and unique within
// the reply (a second "chart.png" becomes "chart-2.png"). An empty or
// unusable name becomes image-N.
func FileNames(images []Image) []string {
	out := make([]string, len(images))
	seen := map[string]bool{}
	for i, img := range images {
		base, ext := splitName(img)
		if base == "" {
			base = fmt.Sprintf("image-%d", i+1)
		}
		name := base + ext
		for n := 2; seen[strings.ToLower(name)]; n++ {
			name = fmt.Sprintf("%s-%d%s", base, n, ext)
		}
		seen[strings.ToLower(name)] = true
		out[i] = name
	}
	return out
}

// splitName is an image's safe base name and extension (with its dot).
func splitName(img Image) (base, ext string) {
	name := img.Name
	// Only the last element of a path counts: "../../etc/passwd" is "passwd".
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	name = strings.Trim(b.String(), ".-_")
	ext = strings.ToLower(path.Ext(name))
	base = strings.Trim(strings.TrimSuffix(name, path.Ext(name)), ".-_")
	if want := typeExt(img.Type); want != "" && ext != want && !(want == ".jpg" && ext == ".jpeg") {
		// The extension says what the bytes are; the media type wins.
		if ext != "" {
			base = strings.Trim(base+"-"+strings.TrimPrefix(ext, "."), ".-_")
		}
		ext = want
	}
	if len(ext) > 8 {
		ext = ""
	}
	if room := maxFileName - len(ext) - 4; len(base) > room {
		base = base[:room]
	}
	// "." and ".." are gone with the trimmed dots; Windows device names
	// are harmless on the platforms but not on every disk.
	switch strings.ToUpper(base) {
	case "CON", "PRN", "AUX", "NUL", "COM1", "LPT1":
		base = "file-" + base
	}
	return base, ext
}

// typeExt is the usual extension of a media type, "" when unknown.
func typeExt(mediaType string) string {
	switch strings.ToLower(strings.TrimSpace(mediaType)) {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/svg+xml":
		return ".svg"
	case "image/webp":
		return ".webp"
	case "":
		return ""
	}
	if exts, err := mime.ExtensionsByType(mediaType); err == nil && len(exts) > 0 {
		return exts[0]
	}
	return ""
}

// ImagesSize is the number of bytes of a reply's pictures.
func ImagesSize(images []Image) int {
	n := 0
	for _, img := range images {
		n += len(img.Data)
	}
	return n
}
