package nixfile

import (
	"errors"
	"fmt"
)

// LocationError is an error at a place in the Nixfile.
type LocationError struct {
	Range Range
	// Also are more lines to blame, after Range.
	Also []Range
	Err  error
}

func (e *LocationError) Error() string {
	msg := e.Err.Error()
	if len(msg) > maxErrorLength {
		// A message that quotes a huge value (a build arg) would not fit
		// BuildKit's messages, and the user would see no error at all.
		msg = fmt.Sprintf("%s... (%d more bytes)", msg[:maxErrorLength], len(msg)-maxErrorLength)
	}
	return fmt.Sprintf("line %d: %s", e.Range.Start.Line, msg)
}

// maxErrorLength is the most bytes of an error's message that are shown.
const maxErrorLength = 4 << 10

func (e *LocationError) Unwrap() error { return e.Err }

func errorAt(r Range, format string, a ...any) error {
	return &LocationError{Range: r, Err: fmt.Errorf(format, a...)}
}

// WithLocation marks err as caused by in, unless it already has a location.
func WithLocation(err error, in Instruction) error {
	if err == nil {
		return nil
	}
	var le *LocationError
	if errors.As(err, &le) {
		return err
	}
	return &LocationError{Range: Location(in), Err: err}
}
