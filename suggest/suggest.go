// Package suggest finds the name a person most likely meant, for the "did
// you mean" hints of config validation and of chat commands alike.
package suggest

import "strings"

// Closest returns the candidate nearest to s if it is near enough to be a
// likely typo, or "". Case and separators (_ - and space) do not count; a
// candidate that s begins (an abbreviation: "tick" for "ticket"), or one of
// four letters or more that begins s, counts as near; on a tie, one that
// starts with s, or that s starts with, wins.
func Closest(s string, candidates []string) string {
	if s == "" || len(s) > 64 {
		return ""
	}
	ls := strings.ToLower(s)
	best, bestScore := "", -1
	for _, c := range candidates {
		if normalize(c) == normalize(s) {
			return c
		}
		lc := strings.ToLower(c)
		d := Distance(ls, lc)
		// s begins c (an abbreviation), or c begins s and is no mere
		// short word ("hostname" for host, not "forcefully" for for).
		prefix := len(ls) >= 2 && strings.HasPrefix(lc, ls) || len(lc) >= 4 && strings.HasPrefix(ls, lc)
		switch {
		case d <= allowed(c):
		case prefix:
			d = allowed(c)
		default:
			continue
		}
		score := 2 * d
		if !strings.HasPrefix(lc, ls) && !strings.HasPrefix(ls, lc) {
			score++
		}
		if bestScore < 0 || score < bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// allowed is the edit distance up to which s counts as a typo of c.
func allowed(c string) int {
	switch n := len(c); {
	case n <= 4:
		return 1
	case n <= 8:
		return 2
	default:
		return 3
	}
}

// normalize folds case and drops separators, so that signingSecret,
// SigningSecret and signing-secret all match signing_secret.
func normalize(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '_', '-', ' ':
			return -1
		}
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// Distance is the edit distance between a and b, by runes, counting an
// insertion, a deletion, a change or a swap of two neighbours as one edit
// (optimal string alignment). Past 64 runes it gives the longer length
// rather than spend time on what is no typo.
func Distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return max(len(ra), len(rb))
	}
	// Three rows of the table: two back, one back and the current one.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
