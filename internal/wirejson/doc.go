// Package wirejson writes and reads the JSON of the values that cross the
// REST wire or the event log most often, a Job and an Event, without
// encoding/json's reflection (a Guest's codec is hvagent/subagent's
// AppendGuest and ParseGuest, which the sub-agent wire uses too). Each
// function gives exactly what encoding/json gives (the same bytes for
// AppendJob and AppendEvent, the same Job for ParseJob) and declines,
// reporting false, whatever it does not handle exactly, for encoding/json
// to do instead. Differential and fuzz tests hold them to that, and a test
// fails when Job or Event gains a field they do not know.
package wirejson
