package discord

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxSkew is how far an interaction's signed timestamp may be from now;
// older requests are replays and are refused.
const MaxSkew = 5 * time.Minute

// Verifier checks that a request came from Discord: an Ed25519 signature by
// the application's public key over the timestamp and the body, with a
// timestamp within MaxSkew of now.
type Verifier struct {
	key ed25519.PublicKey
	now func() time.Time
}

// NewVerifier parses the hex public key from the developer portal.
func NewVerifier(publicKeyHex string, now func() time.Time) (*Verifier, error) {
	key, err := hex.DecodeString(strings.TrimSpace(publicKeyHex))
	if err != nil || len(key) != ed25519.PublicKeySize {
		return nil, errors.New("discord.public_key: want the application's public key, 64 hex digits")
	}
	return &Verifier{key: key, now: now}, nil
}

// Verify reports why a request is not authentic, or nil. signature is the
// X-Signature-Ed25519 header, timestamp the X-Signature-Timestamp header.
func (v *Verifier) Verify(signature, timestamp string, body []byte) error {
	if signature == "" || timestamp == "" {
		return errors.New("missing signature headers")
	}
	sig, err := hex.DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return errors.New("malformed signature")
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("malformed timestamp")
	}
	msg := make([]byte, 0, len(timestamp)+len(body))
	msg = append(msg, timestamp...)
	msg = append(msg, body...)
	if !ed25519.Verify(v.key, msg, sig) {
		return errors.New("bad signature")
	}
	// Checked after the signature, so a forged timestamp is never trusted.
	age := v.now().Sub(time.Unix(secs, 0))
	switch {
	case age > MaxSkew:
		return fmt.Errorf("timestamp %s is %s old; refusing a replay", timestamp, age.Round(time.Second))
	case age < -MaxSkew:
		return fmt.Errorf("timestamp %s is %s in the future; refusing it", timestamp, (-age).Round(time.Second))
	}
	return nil
}
