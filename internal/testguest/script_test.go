package testguest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// script returns the path of scripts/guest-image.sh.
func script(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	require.NoError(t, err)
	return filepath.Join(root, "scripts", "guest-image.sh")
}

// runScript runs the script in dir with exactly env (plus PATH) and returns
// its stdout, stderr and error.
func runScript(t *testing.T, dir string, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), script(t), args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return strings.TrimSpace(stdout.String()), stderr.String(), err
}

func TestGuestImageScript_DataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A fake id(1) makes the script see a non-root user.
	fakeBin := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(fakeBin, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(fakeBin, "id"), []byte("#!/bin/sh\necho 1000\n"), 0o755))
	withDataDir := filepath.Join(dir, "with.json")
	require.NoError(t, os.WriteFile(withDataDir, []byte(`{"data_dir": "from-config"}`), 0o600))
	withoutDataDir := filepath.Join(dir, "without.json")
	require.NoError(t, os.WriteFile(withoutDataDir, []byte(`{"listen": "off"}`), 0o600))
	realPath := "PATH=" + os.Getenv("PATH")
	userPath := "PATH=" + fakeBin + ":" + os.Getenv("PATH")

	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"FlagBeatsEnv", []string{userPath, "HVAGENT_DATA_DIR=/env"}, []string{"--data-dir", "rel/../flag"}, filepath.Join(dir, "flag")},
		{"FlagEqualsForm", []string{userPath}, []string{"--data-dir=/flag/"}, "/flag"},
		{"EnvBeatsConfig", []string{userPath, "HVAGENT_DATA_DIR=/env", "HVAGENT_CONFIG=" + withDataDir}, nil, "/env"},
		{"EmptyEnvIsUnset", []string{userPath, "HVAGENT_DATA_DIR=", "HOME=/home/u"}, nil, "/home/u/.local/state/hvagent"},
		{"ConfigFromEnv", []string{userPath, "HVAGENT_CONFIG=" + withDataDir}, nil, filepath.Join(dir, "from-config")},
		{"ConfigFlagBeatsConfigEnv", []string{userPath, "HVAGENT_CONFIG=" + withDataDir, "HOME=/home/u"}, []string{"--config", withoutDataDir}, "/home/u/.local/state/hvagent"},
		{"ConfigWithoutDataDir", []string{userPath, "HVAGENT_CONFIG=" + withoutDataDir, "HOME=/home/u"}, nil, "/home/u/.local/state/hvagent"},
		{"XDGStateHome", []string{userPath, "XDG_STATE_HOME=/state", "HOME=/home/u"}, nil, "/state/hvagent"},
		{"RelativeXDGStateHomeIgnored", []string{userPath, "XDG_STATE_HOME=state", "HOME=/home/u"}, nil, "/home/u/.local/state/hvagent"},
		{"NoHome", []string{userPath, "TMPDIR=/scratch"}, nil, "/scratch/hvagent-1000"},
		{"NoHomeNoTMPDIR", []string{userPath}, nil, "/tmp/hvagent-1000"},
	}
	if os.Geteuid() == 0 {
		tests = append(tests, struct {
			name string
			env  []string
			args []string
			want string
		}{"Root", []string{realPath, "XDG_STATE_HOME=/state", "HOME=/root"}, nil, "/var/lib/hvagent"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, stderr, err := runScript(t, dir, tt.env, append(tt.args, "--print-data-dir")...)
			require.NoError(t, err, stderr)
			require.Equal(t, tt.want, out)
		})
	}
}

// The script and hvagent agree on the current user's default data dir.
func TestGuestImageScript_DataDirDefaultMatchesAgent(t *testing.T) {
	t.Parallel()
	var env []string
	for _, key := range []string{"PATH", "HOME", "XDG_STATE_HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(key); ok {
			env = append(env, key+"="+v)
		}
	}
	out, stderr, err := runScript(t, t.TempDir(), env, "--print-data-dir")
	require.NoError(t, err, stderr)
	require.Equal(t, (&hvagent.Config{}).WithDefaults().DataDir, out)
}

func TestGuestImageScript_BadUsage(t *testing.T) {
	t.Parallel()
	env := []string{"PATH=" + os.Getenv("PATH")}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"MissingConfig", []string{"--config", "/nonexistent.json", "--print-data-dir"}, "config file /nonexistent.json: no such file"},
		{"UnknownOption", []string{"--bogus"}, "unknown option --bogus"},
		{"TwoOutputDirs", []string{"a", "b"}, "more than one output dir given: a, b"},
		{"DataDirWithoutValue", []string{"--data-dir"}, "--data-dir needs a value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, stderr, err := runScript(t, t.TempDir(), env, tt.args...)
			require.Error(t, err)
			require.Contains(t, stderr, tt.want)
		})
	}
}

// manifest is the part of manifest.json the tests read.
type manifest struct {
	RecipeKey string `json:"recipe_key"`
	Kernel    struct {
		Package, Version, Release, SHA256 string
	} `json:"kernel"`
	Busybox struct{ Package, Version string } `json:"busybox"`
	Modules []string                          `json:"modules"`
	Initrd  struct{ SHA256 string }           `json:"initrd"`
	BuiltAt string                            `json:"built_at"`
}

// readImage checks that out holds a complete image, its files matching the
// manifest's sums, and returns the manifest.
func readImage(t *testing.T, out string) manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	require.NoError(t, err)
	var m manifest
	require.NoError(t, json.Unmarshal(data, &m), "manifest.json:\n%s", data)
	require.Equal(t, m.Kernel.SHA256, sha256File(t, filepath.Join(out, "vmlinuz")))
	require.Equal(t, m.Initrd.SHA256, sha256File(t, filepath.Join(out, "initrd.img")))
	return m
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// initrdFile returns the contents of name in out's initramfs.
func initrdFile(t *testing.T, out, name string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "sh", "-c", `gzip -dc "$1" | cpio -i --quiet --to-stdout "$2"`, "sh",
		filepath.Join(out, "initrd.img"), name)
	data, err := cmd.Output()
	require.NoError(t, err)
	return string(data)
}

// copyRecipe copies the script and testdata/guest into a new directory laid
// out as the repository is, and returns the copy's script and init.
func copyRecipe(t *testing.T) (scriptPath, initPath string) {
	t.Helper()
	root, err := RepoRoot()
	require.NoError(t, err)
	dir := t.TempDir()
	recipe, err := os.ReadDir(filepath.Join(root, "testdata", "guest"))
	require.NoError(t, err)
	files := []string{"scripts/guest-image.sh"}
	for _, e := range recipe {
		files = append(files, "testdata/guest/"+e.Name())
	}
	for _, rel := range files {
		copyFile(t, filepath.Join(root, rel), filepath.Join(dir, rel))
	}
	return filepath.Join(dir, "scripts", "guest-image.sh"), filepath.Join(dir, "testdata", "guest", "init")
}

// copyFile copies src to dst, creating dst's directory, with mode 0755.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(t, os.WriteFile(dst, data, 0o755))
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(line + "\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// build runs the script copy on out and returns its stderr.
func build(t *testing.T, scriptPath, out string) string {
	t.Helper()
	log := runBuild(t.Context(), scriptPath, out)
	require.NotContains(t, log, "failed:")
	return log
}

// runBuild runs the script copy on out and returns its stderr, followed by
// "failed: <why>" when it did not exit 0 printing out.
func runBuild(ctx context.Context, scriptPath, out string) string {
	cmd := exec.CommandContext(ctx, scriptPath, out)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stderr.String() + "failed: " + err.Error()
	}
	if stdout.String() != out+"\n" {
		return stderr.String() + fmt.Sprintf("failed: printed %q", stdout.String())
	}
	return stderr.String()
}

func TestGuestImageScript_Cache(t *testing.T) {
	t.Parallel()
	scriptPath, initPath := copyRecipe(t)
	out := filepath.Join(t.TempDir(), "images", "testguest")

	// The shared image was built from the same recipe: a copy of it is up
	// to date for the recipe's copy too.
	kernel, _ := Kernel(t)
	for _, f := range []string{"vmlinuz", "initrd.img", "manifest.json"} {
		copyFile(t, filepath.Join(filepath.Dir(kernel), f), filepath.Join(out, f))
	}
	first := readImage(t, out)
	require.Equal(t, "busybox-static", first.Busybox.Package)
	require.Contains(t, first.Modules, "button")
	require.Contains(t, first.Modules, "evdev")

	t.Run("SameInputsDoNothing", func(t *testing.T) {
		require.Empty(t, build(t, scriptPath, out))
		require.Equal(t, first, readImage(t, out))
	})

	t.Run("RecipeChangeRebuildsOnce", func(t *testing.T) {
		appendLine(t, initPath, "# changed recipe")
		// Two concurrent runs: one builds, the other waits for it.
		logs := make(chan string, 2)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { logs <- runBuild(t.Context(), scriptPath, out) })
		}
		wg.Wait()
		close(logs)
		built := 0
		for log := range logs {
			require.NotContains(t, log, "failed:")
			if strings.Contains(log, "building the test guest") {
				built++
			}
		}
		require.Equal(t, 1, built, "runs that built")
		second := readImage(t, out)
		require.NotEqual(t, first.RecipeKey, second.RecipeKey)
		want, err := os.ReadFile(initPath)
		require.NoError(t, err)
		require.Equal(t, string(want), initrdFile(t, out, "init"))
	})

	t.Run("InterruptedBuildLeavesTheImage", func(t *testing.T) {
		before := readImage(t, out)
		appendLine(t, initPath, "# changed again")
		cmd := exec.CommandContext(t.Context(), scriptPath, out)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, cmd.Start())
		require.Eventually(t, func() bool {
			tmp, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".testguest.tmp.*"))
			return len(tmp) > 0
		}, time.Minute, 5*time.Millisecond)
		require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
		require.Error(t, cmd.Wait())
		require.Equal(t, before, readImage(t, out))

		require.Contains(t, build(t, scriptPath, out), "building the test guest")
		require.NotEqual(t, before.RecipeKey, readImage(t, out).RecipeKey)
		tmp, err := filepath.Glob(filepath.Join(filepath.Dir(out), ".testguest.tmp.*"))
		require.NoError(t, err)
		require.Empty(t, tmp, "the interrupted build's temp dir is removed")
	})
}

// A kernel version the mirror no longer has (superseded by a security
// update) makes the script refresh the apt lists and resolve again.
func TestGuestImageScript_RefreshesStaleKernel(t *testing.T) {
	t.Parallel()
	scriptPath, _ := copyRecipe(t)
	out := filepath.Join(t.TempDir(), "testguest")
	kernel, _ := Kernel(t)
	for _, f := range []string{"vmlinuz", "initrd.img", "manifest.json"} {
		copyFile(t, filepath.Join(filepath.Dir(kernel), f), filepath.Join(out, f))
	}
	// A stale apt_stamp makes the script ask apt-cache instead of reusing
	// the manifest's answer.
	manifestPath := filepath.Join(out, "manifest.json")
	data, err := os.ReadFile(manifestPath)
	require.NoError(t, err)
	stamped := regexp.MustCompile(`"apt_stamp": "[0-9a-f]*"`).ReplaceAll(data, []byte(`"apt_stamp": "stale"`))
	require.NoError(t, os.WriteFile(manifestPath, stamped, 0o644))

	// Until "apt-get update" runs, apt-cache offers a version that apt-get
	// download cannot find.
	fakeBin := t.TempDir()
	updated := filepath.Join(fakeBin, "updated")
	require.NoError(t, os.WriteFile(filepath.Join(fakeBin, "apt-cache"), []byte(`#!/bin/sh
if [ "$1" = policy ] && [ ! -e `+updated+` ]; then echo "  Candidate: 0.0-gone"; exit 0; fi
exec /usr/bin/apt-cache "$@"
`), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(fakeBin, "apt-get"), []byte(`#!/bin/sh
for a in "$@"; do [ "$a" = update ] && { touch `+updated+`; exit 0; }; done
exec /usr/bin/apt-get "$@"
`), 0o755))

	cmd := exec.CommandContext(t.Context(), scriptPath, out)
	cmd.Env = append(os.Environ(), "PATH="+fakeBin+":"+os.Getenv("PATH"))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	require.Equal(t, out+"\n", stdout.String())
	require.Contains(t, stderr.String(), "=0.0-gone failed")
	require.Contains(t, stderr.String(), "refreshing the apt lists")
	require.NotContains(t, stderr.String(), "building", "the image was up to date for the kernel resolved again")
	require.FileExists(t, updated)
}
