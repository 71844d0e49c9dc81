// Package logtext renders values for hvagent's logs the one way every
// package logs them. Durations are text with units ("1.5s", "250ms",
// "12µs"), never bare numbers whose unit a reader would have to guess:
// zerolog's Dur renders a number in a unit set by a global, which library
// code must not set.
package logtext

import "time"

// Duration returns d as text with units, rounded to what a reader of a log
// needs: milliseconds from a second up, microseconds below.
func Duration(d time.Duration) string {
	if d >= time.Second || d <= -time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}
