package settings

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hvagent/hvagent/hvagent/host"
)

// Verdict is what Check found in a config file that hvagentd accepts.
type Verdict struct {
	// Warnings are what is accepted but likely a mistake, one sentence
	// each: a config that wires no action, services that drive the
	// simulation.
	Warnings []string
	// Files is what the daemon part's files hold (tokens, TLS, socket
	// group), read.
	Files *Files
}

// Check is hvagentd's verdict on a config file before it starts on it, and
// `hvctl config validate`'s, so that the two cannot differ: the file's
// values (Validate), the builtins this program provides, the exposure of
// its TCP listeners (CheckExposure) and the files it names (LoadFiles).
// Every problem found by one of these steps is in the EINVALID error, which
// names the first step that failed; the verdict is nil then. f may be
// checked before or after WithDefaults, and is not modified.
func Check(f *File) (*Verdict, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if err := host.CheckConfig(&f.Config); err != nil {
		return nil, err
	}
	if err := f.CheckExposure(); err != nil {
		return nil, err
	}
	files, err := f.LoadFiles()
	if err != nil {
		return nil, err
	}
	return &Verdict{Warnings: f.warnings(), Files: files}, nil
}

// NoActionWarning is the warning of a config that wires no action.
const NoActionWarning = `config wires no action: every action is refused as "Not configured" until "actions" maps it to stages of the services`

// warnings returns what is accepted in f but likely a mistake.
func (f *File) warnings() []string {
	var w []string
	if len(f.Actions) == 0 {
		w = append(w, NoActionWarning)
	}
	var sim []string
	for name, s := range f.Services {
		if s.Builtin == "sim" {
			sim = append(sim, name)
		}
	}
	if len(sim) > 0 {
		slices.Sort(sim)
		w = append(w, fmt.Sprintf("services using the SIMULATED driver (no real guests): %s", strings.Join(sim, ", ")))
	}
	return w
}
