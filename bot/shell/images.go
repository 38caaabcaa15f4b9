package shell

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"opsbot/bot"
)

// DefaultImagesDir is where the shell writes a reply's pictures unless told
// otherwise (opsbot shell --images DIR): a folder of the user's own under
// the system's temporary directory, e.g. /tmp/opsbot-images-alice.
func DefaultImagesDir() string {
	name := "opsbot-images"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name += "-" + safeUser(u.Username)
	}
	return filepath.Join(os.TempDir(), name)
}

// safeUser keeps a user name to what a folder name may hold ("DOMAIN\bob":
// "DOMAIN-bob").
func safeUser(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, s)
}

// maxCopies bounds how many numbered copies of a name WriteImages tries.
const maxCopies = 1000

// WriteImages writes pictures into dir (created, private to the user, when
// missing) and returns the paths written, in order. Names come from
// bot.FileNames, so none can leave dir; a file already there is never
// overwritten: the new one is numbered (uptime-2.png). dir must be a
// folder, not a link to one elsewhere.
func WriteImages(dir string, images []bot.Image) ([]string, error) {
	if len(images) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the pictures folder: %w", err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("pictures folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("pictures folder %s is not a folder (a link or a file); pass --images DIR", dir)
	}
	names := bot.FileNames(images)
	paths := make([]string, 0, len(images))
	for i, img := range images {
		p, err := create(dir, names[i], img.Data)
		if err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// create writes data to a new file named name in dir, or name-2, name-3…
// when taken; O_EXCL never follows a link or replaces a file.
func create(dir, name string, data []byte) (string, error) {
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for n := 1; n <= maxCopies; n++ {
		candidate := name
		if n > 1 {
			candidate = fmt.Sprintf("%s-%d%s", base, n, ext)
		}
		p := filepath.Join(dir, candidate)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("write picture %s: %w", candidate, err)
		}
		_, werr := f.Write(data)
		cerr := f.Close()
		if werr != nil || cerr != nil {
			_ = os.Remove(p)
			return "", fmt.Errorf("write picture %s: %w", candidate, errors.Join(werr, cerr))
		}
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		return p, nil
	}
	return "", fmt.Errorf("write picture %s: %d files of that name are already in %s; clear it out", name, maxCopies, dir)
}

// renderImages is the lines that name the pictures written for a reply, or
// say why they were not.
func renderImages(dir string, images []bot.Image) string {
	if len(images) == 0 {
		return ""
	}
	if dir == "" {
		dir = DefaultImagesDir()
	}
	paths, err := WriteImages(dir, images)
	var b strings.Builder
	for i, p := range paths {
		title := images[i].Title
		if title == "" {
			title = images[i].Alt
		}
		if title != "" {
			fmt.Fprintf(&b, "  picture: %s (%s)\n", p, title)
		} else {
			fmt.Fprintf(&b, "  picture: %s\n", p)
		}
	}
	if err != nil {
		fmt.Fprintf(&b, "  ✖ %d of %d pictures not saved: %v\n", len(images)-len(paths), len(images), err)
	}
	return b.String()
}
