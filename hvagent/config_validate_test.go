package hvagent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// validConfig is a small valid config for Validate tests to break.
func validConfig() *Config {
	return &Config{
		Services: map[string]ServiceConfig{
			"libvirt": {Port: 20001},
			"storage": {Builtin: "storage"},
		},
		Actions: map[string]ActionConfig{
			ActionCreate: {Stages: []StageConfig{
				{Service: "storage", Method: "ImageStore.CreateGuestDisks"},
				{Service: "libvirt", Method: "Libvirt.CreateGuest", Args: map[string]string{"a": "b"}},
			}},
			ActionStart: {Stages: []StageConfig{{Service: "libvirt", Method: "Libvirt.Run"}}},
		},
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()

	svc := func(c *Config, name string, s ServiceConfig) { c.Services[name] = s }
	stage := func(c *Config, i int, st StageConfig) { c.Actions[ActionCreate].Stages[i] = st }
	act := func(c *Config, f func(a *ActionConfig)) {
		a := c.Actions[ActionStart]
		f(&a)
		c.Actions[ActionStart] = a
	}
	tests := []struct {
		name   string
		modify func(c *Config)
		want   string // "" = valid
	}{
		{"OK", func(*Config) {}, ""},
		{"AllExtensions", func(c *Config) {
			svc(c, "remote", ServiceConfig{URL: "http://h:1/base", Path: "/rpc", MaxPending: 3, Timeout: dur(time.Second)})
			svc(c, "local", ServiceConfig{Socket: "/run/s.sock"})
			svc(c, "sim", ServiceConfig{Builtin: "sim"})
			svc(c, "qemu", ServiceConfig{Builtin: "qemu"})
			act(c, func(a *ActionConfig) {
				a.Timeout, a.OnInterrupt, a.Retry = dur(time.Minute), Fail, &RetryConfig{Attempts: 1, Backoff: dur(time.Second)}
			})
			c.Durability = "normal"
		}, ""},
		{"EmptyStages", func(c *Config) { c.Actions[ActionDelete] = ActionConfig{} }, ""},
		{"StreamTwoStages", func(c *Config) {
			st := c.Actions[ActionCreate].Stages[0]
			c.Actions[ActionConsole] = ActionConfig{Stages: []StageConfig{st, st}}
		}, "stream action console must have exactly one stage, has 2"},
		{"StreamNoStage", func(c *Config) { c.Actions[ActionConsole] = ActionConfig{} },
			"stream action console must have exactly one stage, has 0"},
		{"NoPort", func(c *Config) { svc(c, "libvirt", ServiceConfig{Path: "/x"}) },
			"service libvirt has no port, url, socket or builtin"},
		{"TwoLocators", func(c *Config) { svc(c, "libvirt", ServiceConfig{Port: 1, Socket: "/s"}) },
			"service libvirt has more than one of port, url, socket and builtin (port, socket)"},
		{"FourLocators", func(c *Config) {
			svc(c, "libvirt", ServiceConfig{Port: 1, URL: "http://h", Socket: "/s", Builtin: "sim"})
		},
			"service libvirt has more than one of port, url, socket and builtin (port, url, socket, builtin)"},
		{"PortRange", func(c *Config) { svc(c, "libvirt", ServiceConfig{Port: 70000}) },
			"service libvirt: port 70000 is out of range 1-65535"},
		{"URLScheme", func(c *Config) { svc(c, "libvirt", ServiceConfig{URL: "ftp://h/"}) },
			`service libvirt: url "ftp://h/" is not an http or https URL`},
		{"URLNoHost", func(c *Config) { svc(c, "libvirt", ServiceConfig{URL: "http:///x"}) },
			`service libvirt: url "http:///x" is not an http or https URL`},
		{"URLUnparsable", func(c *Config) { svc(c, "libvirt", ServiceConfig{URL: "http://h:x:y/%zz"}) },
			`service libvirt: url "http://h:x:y/%zz" is not an http or https URL`},
		{"Builtin", func(c *Config) { svc(c, "storage", ServiceConfig{Builtin: "xen"}) },
			`service storage: builtin "xen" is not one of sim, qemu, storage`},
		{"PathSlash", func(c *Config) { svc(c, "libvirt", ServiceConfig{Port: 1, Path: "rpc"}) },
			`service libvirt: path "rpc" must start with "/"`},
		{"ServiceTimeout", func(c *Config) { svc(c, "libvirt", ServiceConfig{Port: 1, Timeout: dur(-time.Second)}) },
			"service libvirt: timeout must not be negative, got -1s"},
		{"ServiceEmptyName", func(c *Config) { svc(c, "", ServiceConfig{Port: 1}) }, "service name cannot be empty"},
		{"StageService", func(c *Config) { stage(c, 1, StageConfig{Method: "Libvirt.CreateGuest"}) },
			"create: service cannot be empty (stage 2)"},
		{"StageMethod", func(c *Config) { stage(c, 0, StageConfig{Service: "storage"}) },
			"create: method cannot be empty (stage 1)"},
		{"StageUnknownService", func(c *Config) { stage(c, 0, StageConfig{Service: "nope", Method: "A.B"}) },
			"create unable to find service nope"},
		{"MethodNoDot", func(c *Config) { stage(c, 0, StageConfig{Service: "storage", Method: "CreateGuest"}) },
			`create: method "CreateGuest" is not of the form Service.Method (stage 1)`},
		{"MethodTwoDots", func(c *Config) { stage(c, 0, StageConfig{Service: "storage", Method: "A.B.C"}) },
			`create: method "A.B.C" is not of the form Service.Method (stage 1)`},
		{"MethodEmptyHalf", func(c *Config) { stage(c, 0, StageConfig{Service: "storage", Method: "A."}) },
			`create: method "A." is not of the form Service.Method (stage 1)`},
		{"MethodSpace", func(c *Config) { stage(c, 0, StageConfig{Service: "storage", Method: "A. B"}) },
			`create: method "A. B" is not of the form Service.Method (stage 1)`},
		{"InvalidAction", func(c *Config) { c.Actions["run"] = ActionConfig{} }, "action run is not a valid action"},
		{"OnInterrupt", func(c *Config) { act(c, func(a *ActionConfig) { a.OnInterrupt = "retry" }) },
			`action start: on_interrupt "retry" is not one of requeue, fail`},
		{"ActionTimeout", func(c *Config) { act(c, func(a *ActionConfig) { a.Timeout = dur(-time.Minute) }) },
			"action start: timeout must not be negative, got -1m0s"},
		{"RetryAttempts", func(c *Config) { act(c, func(a *ActionConfig) { a.Retry = &RetryConfig{Attempts: -1} }) },
			"action start: retry attempts must be at least 1, got -1"},
		{"RetryBackoff", func(c *Config) { act(c, func(a *ActionConfig) { a.Retry = &RetryConfig{Backoff: dur(-time.Second)} }) },
			"action start: retry backoff must not be negative, got -1s"},
		{"Durability", func(c *Config) { c.Durability = "off" }, `durability "off" is not one of full, normal`},
		{"QEMUAccel", func(c *Config) { c.QEMUAccel = "hvf" }, `qemu_accel "hvf" is not one of tcg, kvm`},
		{"MaxLoggedJobs", func(c *Config) { c.MaxLoggedJobs = -1 }, "max_logged_jobs must not be negative, got -1"},
		{"MaxEvents", func(c *Config) { c.MaxEvents = -2 }, "max_events must not be negative, got -2"},
		{"MaxQueued", func(c *Config) { c.MaxQueued = -3 }, "max_queued must not be negative, got -3"},
		{"Limits", func(c *Config) { c.InfoLimit, c.StreamLimit, c.HostJobLimit = -1, -1, -1 },
			"HostJobLimit must not be negative, got -1; InfoLimit must not be negative, got -1; StreamLimit must not be negative, got -1"},
		{"AllSortedAndDeduplicated", func(c *Config) {
			c.Actions["run"] = ActionConfig{Stages: []StageConfig{{Service: "x", Method: "X.Y"}, {Service: "x", Method: "X.Z"}}}
			svc(c, "libvirt", ServiceConfig{})
			c.Durability = "off"
			c.MaxQueued = -1
		}, `action run is not a valid action; durability "off" is not one of full, normal; max_queued must not be negative, got -1; ` +
			"run unable to find service x; service libvirt has no port, url, socket or builtin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := validConfig()
			tt.modify(c)
			err := c.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				require.NoError(t, c.WithDefaults().Validate())
				return
			}
			requireInvalid(t, err, "config: "+tt.want)
			requireInvalid(t, c.WithDefaults().Validate(), "config: "+tt.want)
		})
	}
}

func TestConfig_ValidateNil(t *testing.T) {
	t.Parallel()

	var c *Config
	requireInvalid(t, c.Validate(), "config: no config")
	require.NoError(t, (&Config{}).Validate())
}
