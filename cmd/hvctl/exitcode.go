package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hvagent/hvagent/hvagent"
)

// Exit codes of hvctl: the one table, also shown by `hvctl --help`.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitConflict    = 4
	exitUnavailable = 5
	exitJobFailed   = 6
	exitCanceled    = 7
	exitTimeout     = 8
	exitInterrupted = 130
)

// exitCodeHelp is the exit code table as shown in `hvctl --help`.
const exitCodeHelp = `Exit codes:
  0    ok
  1    error
  2    usage: bad command line or invalid input
  3    not found: no such guest, job, image, snapshot or key
  4    conflict or busy: wrong state, duplicate, data dir in use, queue full
  5    unavailable: hvagentd cannot be reached or is stopping
  6    job failed (status Error) for another reason: a sub-agent or internal failure
  7    canceled (status Canceled)
  8    timeout
  130  interrupted while waiting (the job keeps running)
A waited job that ends in Error exits by its error code (the job's Error):
not_found 3, conflict 4, invalid 2, unavailable 5, timeout 8; otherwise 6.`

// exitCode maps an error to hvctl's exit code; it is the only place that
// does.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var u *usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	var i *interruptedError
	if errors.As(err, &i) {
		return exitInterrupted
	}
	var j *jobEndError
	if errors.As(err, &j) {
		return jobExitCode(j.job)
	}
	if code, ok := codeExit(hvagent.ErrorCode(err)); ok {
		return code
	}
	return exitError
}

// jobExitCode is the exit code of a waited job that ended Error or
// Canceled: by its error code word, exitJobFailed for an unclassified
// failure (subagent, internal, or none recorded).
func jobExitCode(job *hvagent.Job) int {
	if job.Status == hvagent.JobCanceled {
		return exitCanceled
	}
	if code, ok := codeExit(job.Error); ok {
		return code
	}
	return exitJobFailed
}

// codeExit maps an error code word to its exit code; false for the words
// that have none of their own (internal, subagent, ...).
func codeExit(code string) (int, bool) {
	switch code {
	case hvagent.EINVALID, hvagent.ETOOLARGE:
		return exitUsage, true
	case hvagent.ENOTFOUND:
		return exitNotFound, true
	case hvagent.ECONFLICT, hvagent.EBUSY:
		return exitConflict, true
	case hvagent.EUNAVAILABLE:
		return exitUnavailable, true
	case hvagent.ECANCELED:
		return exitCanceled, true
	case hvagent.ETIMEOUT:
		return exitTimeout, true
	}
	return 0, false
}

// usageError is a bad command line: exit code 2, with a usage hint.
type usageError struct {
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a usage error with a formatted message.
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// flagError returns the usage error of a bad value of flag name.
func flagError(name, format string, args ...any) error {
	return usageErrorf("--%s: %s", name, fmt.Sprintf(format, args...))
}

// jobEndError reports a waited-for job that ended Error or Canceled.
type jobEndError struct {
	job *hvagent.Job
}

func (e *jobEndError) Error() string {
	verb := "failed"
	if e.job.Status == hvagent.JobCanceled {
		verb = "was canceled"
	}
	msg := fmt.Sprintf("job %s (%s) %s", e.job.ID, e.job.Action, verb)
	if e.job.Message != "" {
		msg += ": " + e.job.Message
	}
	return msg
}

// interruptedError reports a wait ended by Ctrl-C; the job goes on.
type interruptedError struct {
	msg string
}

func (e *interruptedError) Error() string { return e.msg }

// errorLine is err as the one line hvctl prints for it.
func errorLine(err error) string {
	msg := err.Error()
	var e *hvagent.Error
	if errors.As(err, &e) && msg == "" {
		msg = e.Code
	}
	msg = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(msg, "\r", ""), "\n", "; "))
	return "hvctl: " + printable(msg) // a sub-agent's text may carry escape sequences
}
