package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

func TestExitCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"OK", nil, exitOK},
		{"Plain", errors.New("boom"), exitError},
		{"Usage", usageErrorf("bad"), exitUsage},
		{"Invalid", hvagent.Errorf(hvagent.EINVALID, "x"), exitUsage},
		{"NotFound", hvagent.Errorf(hvagent.ENOTFOUND, "x"), exitNotFound},
		{"Conflict", hvagent.Errorf(hvagent.ECONFLICT, "x"), exitConflict},
		{"Busy", hvagent.Errorf(hvagent.EBUSY, "x"), exitConflict},
		{"Unavailable", hvagent.Errorf(hvagent.EUNAVAILABLE, "x"), exitUnavailable},
		{"JobFailed", &jobEndError{job: newJob("start", hvagent.JobError)}, exitJobFailed},
		{"JobCanceled", &jobEndError{job: newJob("start", hvagent.JobCanceled)}, exitCanceled},
		{"Canceled", hvagent.Errorf(hvagent.ECANCELED, "x"), exitCanceled},
		{"Timeout", hvagent.Errorf(hvagent.ETIMEOUT, "x"), exitTimeout},
		{"Interrupted", &interruptedError{msg: "x"}, exitInterrupted},
		{"Internal", hvagent.Errorf(hvagent.EINTERNAL, "x"), exitError},
		{"Subagent", hvagent.Errorf(hvagent.ESUBAGENT, "x"), exitError},
		{"JobNotFound", failedJob(hvagent.ENOTFOUND), exitNotFound},
		{"JobConflict", failedJob(hvagent.ECONFLICT), exitConflict},
		{"JobInvalid", failedJob(hvagent.EINVALID), exitUsage},
		{"JobUnavailable", failedJob(hvagent.EUNAVAILABLE), exitUnavailable},
		{"JobTimeout", failedJob(hvagent.ETIMEOUT), exitTimeout},
		{"JobSubagent", failedJob(hvagent.ESUBAGENT), exitJobFailed},
		{"JobInternal", failedJob(hvagent.EINTERNAL), exitJobFailed},
		{"JobNoCode", failedJob(""), exitJobFailed},
		{"JobCanceledCode", &jobEndError{job: &hvagent.Job{Status: hvagent.JobCanceled, Error: hvagent.ECANCELED}}, exitCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, exitCode(tc.err))
		})
	}
}

// failedJob is the error of a waited job that ended Error with code.
func failedJob(code string) error {
	j := newJob("start", hvagent.JobError)
	j.Error = code
	return &jobEndError{job: j}
}

func TestErrorLine(t *testing.T) {
	t.Parallel()
	require.Equal(t, "hvctl: a; b", errorLine(errors.Join(errors.New("a"), errors.New("b"))))
	require.Equal(t, "hvctl: conflict", errorLine(&hvagent.Error{Code: hvagent.ECONFLICT}))
	require.Equal(t, `hvctl: fetch: HTTP 500 \x1b[31mred`, errorLine(errors.New("fetch: HTTP 500 \x1b[31mred")),
		"a sub-agent's escape sequence does not reach the terminal")
}

func TestRoot_Help(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Equal(t, exitOK, b.run(t.Context(), "--help"))
	help := b.out.String()
	require.Contains(t, help, exitCodeHelp, "the exit code table is in --help")
	for _, noun := range []string{"guest", "image", "snapshot", "job", "metadata", "events", "queue", "config", "completion", "version"} {
		require.Contains(t, help, "\n  "+noun+" ", noun)
	}
}

func TestRoot_UsageErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		msg  string
		cmd  string
	}{
		{"UnknownFlag", []string{"guest", "list", "--bogus"}, "unknown flag: --bogus", "hvctl guest list"},
		{"UnknownCommand", []string{"bogus"}, `unknown command "bogus" for "hvctl"`, "hvctl"},
		{"UnknownSubcommand", []string{"guest", "bogus"}, `unknown command "bogus" for "hvctl guest"`, "hvctl guest"},
		{"MissingArg", []string{"guest", "show"}, "hvctl guest show needs GUEST", "hvctl guest show"},
		{"ExtraArg", []string{"guest", "show", "a", "b"}, "takes 1 argument(s), got 2", "hvctl guest show"},
		{"BadOutput", []string{"job", "list", "-o", "yaml"}, `--output: "yaml" is not table or json`, "hvctl job list"},
		{"LocalAndAddr", []string{"--local", "--addr", "h:1", "guest", "list"}, "--local and --addr", "hvctl guest list"},
		{"BadDuration", []string{"guest", "start", guestID, "--timeout", "soon"}, `--timeout: "soon" is not a duration such as 30s`, "hvctl guest start"},
		{"BadNumber", []string{"guest", "list", "--limit", "ten"}, `--limit: "ten" is not a whole number`, "hvctl guest list"},
		{"NegativeUint", []string{"guest", "create", "--cpu", "-1"}, `--cpu: "-1" is not a whole number of 0 or more`, "hvctl guest create"},
		{"NumberOutOfRange", []string{"guest", "create", "--cpu", "99999999999999999999"}, `--cpu: "99999999999999999999" is out of range`, "hvctl guest create"},
		{"FlagTypo", []string{"guest", "list", "--limt", "1"}, `unknown flag: --limt; did you mean "--limit"?`, "hvctl guest list"},
		{"CommandTypo", []string{"guest", "strat"}, `unknown command "strat" for "hvctl guest"; did you mean "start"?`, "hvctl guest [command]"},
		{"NounTypo", []string{"gust"}, `did you mean "guest"?`, "hvctl [command]"},
		{"HelpTypo", []string{"guest", "help", "strat"}, `did you mean "start"?`, "hvctl guest help"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			require.Equal(t, exitUsage, b.run(t.Context(), tc.args...))
			lines := strings.Split(strings.TrimSpace(b.errOut.String()), "\n")
			require.Len(t, lines, 3, b.errOut.String())
			require.True(t, strings.HasPrefix(lines[0], "hvctl: "), lines[0])
			require.Contains(t, lines[0], tc.msg)
			require.True(t, strings.HasPrefix(lines[1], "Usage: "+tc.cmd), lines[1])
			require.Equal(t, "Run '"+strings.TrimSuffix(tc.cmd, " [command]")+" --help' for details.", lines[2])
			require.Empty(t, b.out.String())
		})
	}
}

func TestRoot_NounShowsHelp(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.Equal(t, exitOK, b.run(t.Context(), "guest"))
	require.Contains(t, b.out.String(), "hvctl guest [command]")
}

func TestRoot_ServiceError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.f.Service = func() (hvagent.Service, error) {
		return nil, hvagent.Errorf(hvagent.EUNAVAILABLE, "cannot reach hvagentd")
	}
	require.Equal(t, exitUnavailable, b.run(t.Context(), "guest", "list"))
	require.Equal(t, "hvctl: cannot reach hvagentd\n", b.errOut.String())
}

func TestConnector_Explain(t *testing.T) {
	t.Parallel()
	env := map[string]string{"HVAGENT_ADDR": "h:1"}
	c := &connector{getenv: func(k string) string { return env[k] }}
	err := c.explain(hvagent.Errorf(hvagent.EUNAVAILABLE, "cannot reach hvagentd at h:1"))
	require.Equal(t, exitUnavailable, exitCode(err))
	require.Equal(t, "cannot reach hvagentd at h:1 (address from $HVAGENT_ADDR; is hvagentd running? see --addr, or use --local)", err.Error())
	c.addr = "https://h:1"
	err = c.explain(hvagent.Errorf(hvagent.EINVALID, "hvagentd at https://h:1 does not speak TLS (HTTPS): use http://h:1"))
	require.Equal(t, exitUsage, exitCode(err))
	require.Equal(t, "hvagentd at https://h:1 does not speak TLS (HTTPS): use http://h:1 (address from --addr)", err.Error())
	require.NoError(t, c.explain(nil))
	invalid := hvagent.Errorf(hvagent.EINVALID, "cpu 1 is more than the host has")
	require.Equal(t, invalid, c.explain(invalid), "the API's own invalid errors are left alone")
	c.addr = ""
	err = c.explain(hvagent.Errorf(hvagent.EUNAVAILABLE, "cannot reach hvagentd at unix:///x"))
	require.Contains(t, err.Error(), "(address from $HVAGENT_ADDR; is hvagentd running?")
	other := hvagent.Errorf(hvagent.ENOTFOUND, "nope")
	require.Equal(t, other, c.explain(other))
	c.local = true
	unavailable := hvagent.Errorf(hvagent.EUNAVAILABLE, "stopping")
	require.Equal(t, unavailable, c.explain(unavailable), "no daemon hint with --local")
}

func TestConnector_Addr(t *testing.T) {
	t.Parallel()
	env := map[string]string{}
	c := &connector{getenv: func(k string) string { return env[k] }, dataDir: "/srv/hv"}
	require.Equal(t, "unix:///srv/hv/hvagent.sock", c.resolvedAddr())
	env["HVAGENT_ADDR"] = "127.0.0.1:9"
	require.Equal(t, "127.0.0.1:9", c.resolvedAddr())
	c.addr = "https://h:1"
	require.Equal(t, "https://h:1", c.resolvedAddr(), "--addr wins")

	_, from := (&connector{getenv: func(string) string { return "" }}).addrFrom()
	require.Equal(t, "address: the socket in the default data dir, as neither --addr nor $HVAGENT_ADDR is set", from)
	_, from = (&connector{getenv: func(string) string { return "" }, dataDir: "/d"}).addrFrom()
	require.Equal(t, "address: the socket in the data dir from --data-dir, as neither --addr nor $HVAGENT_ADDR is set", from)

	c2 := &connector{getenv: func(k string) string { return map[string]string{"HVAGENT_DATA_DIR": "/env/dir"}[k] }}
	require.Equal(t, "/env/dir", c2.resolvedDataDir())
	c2.dataDir = "/flag/dir"
	require.Equal(t, "/flag/dir", c2.resolvedDataDir(), "--data-dir wins")
}

func TestRoot_HelpOfCommand(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help", "guest", "start"}, {"guest", "help", "start"}, {"guest", "start", "--help"}} {
		b := setup(t)
		require.Equal(t, exitOK, b.run(t.Context(), args...), "%q: %s", args, b.errOut.String())
		require.Contains(t, b.out.String(), "Usage:\n  hvctl guest start GUEST... [flags]\n", args)
	}
	b := setup(t)
	require.Equal(t, exitOK, b.run(t.Context(), "guest", "help"))
	require.Contains(t, b.out.String(), "Usage:\n  hvctl guest [command]\n\n", "a noun's usage shows [command] only")
}

func TestDidYouMean(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, want string }{
		{"strat", `; did you mean "start"?`},
		{"Start", `; did you mean "start"?`},
		{"stat", `; did you mean "start"?`},
		{"stoq", `; did you mean "stop"?`},
		{"sta", `; did you mean "start" or "stop"?`},
		{"reboot", `; did you mean "reboot"?`},
		{"xyzzy", ""},
	} {
		require.Equal(t, tc.want, didYouMean(tc.name, []string{"start", "stop", "reboot", "restart"}), tc.name)
	}
	require.Equal(t, 3, editDistance("kitten", "sitting"))
	require.Equal(t, 0, editDistance("", ""))
	require.Equal(t, 4, editDistance("", "stop"))
}
