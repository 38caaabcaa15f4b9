package bot

import (
	"errors"
	"fmt"
)

// UserError is an error whose message is safe and useful to show the person
// who sent the request: what was wrong and what to type instead.
type UserError struct {
	Msg string
	// Usage, when set, is shown under the message.
	Usage string
}

func (e *UserError) Error() string { return e.Msg }

// Errorf returns a UserError with a formatted message.
func Errorf(format string, args ...any) error {
	return &UserError{Msg: fmt.Sprintf(format, args...)}
}

// ErrForbidden is wrapped by errors that deny a person something; the router
// counts them apart from other user errors.
var ErrForbidden = errors.New("forbidden")

// Forbiddenf returns a user error that says what the person may not do.
func Forbiddenf(format string, args ...any) error {
	return &forbiddenError{UserError{Msg: fmt.Sprintf(format, args...)}}
}

type forbiddenError struct{ UserError }

func (e *forbiddenError) Unwrap() []error { return []error{&e.UserError, ErrForbidden} }

// AsUserError reports whether err is, or wraps, a UserError.
func AsUserError(err error) (*UserError, bool) {
	var ue *UserError
	if errors.As(err, &ue) {
		return ue, true
	}
	return nil, false
}
