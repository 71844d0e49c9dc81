// Package jsonform writes and reads JSON in the one form json.Marshal gives
// (keys in a struct's order, no whitespace, the same escapes), field by
// field and without reflection, for the codecs of the values that cross the
// wires most often: a Guest (hvagent/subagent) and a Job (internal/wirejson).
package jsonform
