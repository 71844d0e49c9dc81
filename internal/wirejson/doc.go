// Package wirejson writes and reads the JSON of the values that cross a
// wire or the event log most often, a Job and a Guest, without
// encoding/json's reflection. Each function gives exactly what
// encoding/json gives (the same bytes for AppendJob and AppendGuest, the
// same Job for ParseJob) and declines, reporting false, whatever it does
// not handle exactly, for encoding/json to do instead. Differential and
// fuzz tests hold them to that, and a test fails when Job or Guest gains
// a field they do not know.
package wirejson
