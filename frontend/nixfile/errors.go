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
	return fmt.Sprintf("line %d: %v", e.Range.Start.Line, e.Err)
}

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
