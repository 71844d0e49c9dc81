// Package settings is hvagentd's config file: one JSON object that holds
// both the library's hvagent.Config (services, actions, store, limits) and
// the daemon's own settings (listeners, TLS, tokens, socket, logging,
// shutdown). hvagentd reads it and writes its effective form to
// <data_dir>/config.json; hvctl reads it for `config validate` and --local.
//
// The file is decoded strictly: an unknown key in either part, a duplicate
// key or a value of the wrong type is an error naming the key and where it
// is.
package settings

import (
	"errors"
	"io/fs"
	"os"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/strictjson"
)

// File is a config file: the library's keys and the daemon's, flattened
// into one JSON object (the original mistify-agent files load unchanged).
type File struct {
	hvagent.Config
	Daemon
}

// Parse decodes a config file's contents strictly, as hvagent.ParseConfig
// does but with the daemon's keys too. Absent keys keep their zero value:
// Parse neither fills defaults (see WithDefaults) nor validates (see
// Validate). Errors are EINVALID.
func Parse(data []byte) (*File, error) {
	return parse(data, "config")
}

// Load reads and decodes the config file at path as Parse does; error
// messages name the file. A missing file is ENOTFOUND, anything else
// EINVALID.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		code := hvagent.EINVALID
		if errors.Is(err, fs.ErrNotExist) {
			code = hvagent.ENOTFOUND
		}
		return nil, hvagent.WrapError(code, err, "read config: %v", err)
	}
	return parse(data, "config "+path)
}

// parse decodes data strictly; where prefixes every error message.
func parse(data []byte, where string) (*File, error) {
	f := &File{}
	if err := strictjson.Decode(data, f, where); err != nil {
		return nil, &hvagent.Error{Code: hvagent.EINVALID, Message: err.Error(), Err: err}
	}
	// Empty omitempty values become nil, as hvagent.ParseConfig makes them,
	// so that a file marshals and parses back to the same value.
	if len(f.AllowedPaths) == 0 {
		f.AllowedPaths = nil
	}
	for _, a := range f.Actions {
		for i := range a.Stages {
			if len(a.Stages[i].Args) == 0 {
				a.Stages[i].Args = nil
			}
		}
	}
	return f, nil
}

// WithDefaults returns a deep copy of f with every unset field of both
// parts given its default (see each field's doc). A nil f is treated as an
// empty File.
func (f *File) WithDefaults() *File {
	var cfg *hvagent.Config
	var d Daemon
	if f != nil {
		cfg, d = &f.Config, f.Daemon
	}
	out := &File{Config: *cfg.WithDefaults()}
	out.Daemon = d.withDefaults(out.DataDir)
	return out
}

// Validate reports every problem of both parts in one EINVALID error, its
// messages sorted and joined by "; " as hvagent.Config.Validate does. Zero
// values mean "default", so f may be validated before or after
// WithDefaults. Whether a listener may be exposed is CheckExposure's
// concern.
func (f *File) Validate() error {
	if f == nil {
		return hvagent.Errorf(hvagent.EINVALID, "config: no config")
	}
	problems := f.Daemon.problems()
	if err := f.Config.Validate(); err != nil {
		lib, ok := libraryProblems(err)
		if !ok {
			return err
		}
		problems = append(problems, lib...)
	}
	return problemsError(problems)
}

// libraryProblems splits an error of hvagent.Config.Validate into its
// problems (its Err joins one error per problem); false for another error.
func libraryProblems(err error) ([]string, bool) {
	var e *hvagent.Error
	if !errors.As(err, &e) {
		return nil, false
	}
	joined, ok := e.Err.(interface{ Unwrap() []error })
	if !ok {
		return nil, false
	}
	var problems []string
	for _, p := range joined.Unwrap() {
		problems = append(problems, p.Error())
	}
	return problems, true
}
