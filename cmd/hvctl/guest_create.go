package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// GuestCreateOptions are the options of `hvctl guest create`.
type GuestCreateOptions struct {
	cmdBase
	Out   outputOptions
	Async asyncOptions

	// The flags the guest is built from.
	ID        string
	Name      string
	Type      string
	Image     string
	Memory    string
	CPU       uint
	Disks     []string
	Nics      []string
	Kernel    string
	Initrd    string
	Cmdline   string
	Metadata  []string
	Autostart bool
	// File is a guest's JSON ("-" = stdin), instead of the flags above.
	File string

	// Guest is the guest to create, built from the flags or File.
	Guest *hvagent.Guest
}

const guestCreateLong = `Create a guest. The guest is stored at once in state "create" and its create job is
queued; it prints the job (with -q, the new guest's ID). With --wait it waits for the
job to end. A guest of type container uses the container actions and needs --image.

--disk and --nic may be repeated; each takes comma-separated key=value pairs:
  --disk image=ID[,bus=B]        a disk on an image
  --disk size=SIZE[,bus=B]       a blank disk (SIZE in MB, or with a unit: 512M, 20G)
  --nic network=BR[,mac=M][,model=M][,name=N]

Or give the whole guest as JSON (the API's shape) with -f FILE, "-" for stdin.`

const guestCreateExample = `  hvctl guest create --name web1 --memory 1G --cpu 2 --disk image=debian-12 --nic network=br0 --wait
  hvctl guest create --disk size=20G,bus=virtio --kernel /var/lib/hvagent/images/vmlinuz \
      --cmdline "console=ttyS0" --metadata owner=ops
  hvctl guest create --type container --image nginx:1.27 --wait -q
  hvctl guest create -f guest.json -o json
  echo '{"memory":512,"disks":[{"size":1024}]}' | hvctl guest create -f -`

// newCmdGuestCreate returns `hvctl guest create`.
func newCmdGuestCreate(f *Factory, runF func(*GuestCreateOptions) error) *cobra.Command {
	opts := &GuestCreateOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:     "create [flags]",
		Short:   "Create a guest",
		Long:    guestCreateLong,
		Example: guestCreateExample,
		Args:    noArgs,
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.ID, "id", "", "the guest's ID, a `UUID` (default: a new one)")
	fl.StringVar(&opts.Name, "name", "", "the guest's `NAME`, unique on the host: 1 to 63 of a-z, 0-9 and -, not a UUID nor \"agent\"")
	fl.StringVar(&opts.Type, "type", "", `guest type: "container", or empty for a VM`)
	fl.StringVar(&opts.Image, "image", "", "container image (with --type container)")
	fl.StringVar(&opts.Memory, "memory", "", "memory in MB, or `SIZE` with a unit (512M, 2G); 0: the driver's default")
	fl.UintVar(&opts.CPU, "cpu", 0, "number of virtual CPUs")
	fl.StringArrayVar(&opts.Disks, "disk", nil, "a disk `SPEC`: image=ID|size=SIZE[,bus=B] (repeatable)")
	fl.StringArrayVar(&opts.Nics, "nic", nil, "a network interface `SPEC`: network=BR[,mac=M][,model=M][,name=N] (repeatable)")
	fl.StringVar(&opts.Kernel, "kernel", "", "kernel to boot directly (a host path under an allowed directory)")
	fl.StringVar(&opts.Initrd, "initrd", "", "initrd for --kernel")
	fl.StringVar(&opts.Cmdline, "cmdline", "", "kernel command line for --kernel")
	fl.StringArrayVar(&opts.Metadata, "metadata", nil, "metadata `KEY=VALUE` (repeatable)")
	fl.BoolVar(&opts.Autostart, "autostart", false, "start the guest when hvagentd starts and finds it stopped")
	fl.StringVarP(&opts.File, "file", "f", "", "create the guest described by this JSON `FILE` (\"-\" = stdin)")
	_ = cmd.RegisterFlagCompletionFunc("type", fixedCompletion("container"))
	addOutputFlags(cmd, &opts.Out)
	addAsyncFlags(cmd, &opts.Async, f)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, guestCreateRun, func([]string) error {
		if err := opts.Out.validate(); err != nil {
			return err
		}
		if err := opts.Async.validate(); err != nil {
			return err
		}
		g, err := opts.buildGuest(cmd)
		opts.Guest = g
		return err
	})
	return cmd
}

func guestCreateRun(opts *GuestCreateOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	return runAsync(opts.context(), opts.IO, svc, opts.Out, opts.Async, submission{
		action:  hvagent.ActionCreate,
		req:     hvagent.Request{Guest: opts.Guest},
		quietID: func(j *hvagent.Job) string { return j.GuestID },
	})
}

// guestFlags are the flags that describe the guest, which -f replaces.
var guestFlags = []string{"id", "name", "type", "image", "memory", "cpu", "disk", "nic", "kernel", "initrd", "cmdline", "metadata", "autostart"}

// buildGuest builds the guest from -f or the flags. Bad values are usage
// errors naming the flag.
func (o *GuestCreateOptions) buildGuest(cmd *cobra.Command) (*hvagent.Guest, error) {
	if o.File != "" {
		for _, name := range guestFlags {
			if cmd.Flags().Changed(name) {
				return nil, usageErrorf("-f cannot be combined with --%s", name)
			}
		}
		return readGuestFile(o.File, o.IO.In)
	}
	g := &hvagent.Guest{Name: o.Name, Type: o.Type, Image: o.Image, CPU: o.CPU, Autostart: o.Autostart}
	if o.Name != "" {
		if err := hvagent.ValidateGuestName(o.Name); err != nil {
			return nil, flagError("name", "%v", err)
		}
	}
	if o.ID != "" {
		id, err := hvagent.ParseGuestID(o.ID)
		if err != nil {
			return nil, flagError("id", "%q is not a UUID", o.ID)
		}
		g.ID = id
	}
	if o.Image != "" && o.Type != hvagent.ContainerGuestType {
		return nil, flagError("image", "is for containers: add --type container (VM disks take --disk image=ID)")
	}
	if o.Type == hvagent.ContainerGuestType && o.Image == "" {
		return nil, flagError("image", "a container needs an image")
	}
	if o.Memory != "" {
		mb, err := parseMB(o.Memory)
		if err != nil {
			return nil, flagError("memory", "%v", err)
		}
		g.Memory = uint(mb)
	}
	var err error
	if g.Disks, err = parseDisks(o.Disks); err != nil {
		return nil, err
	}
	if g.Nics, err = parseNics(o.Nics); err != nil {
		return nil, err
	}
	if g.Metadata, err = parseKeyValues("metadata", o.Metadata); err != nil {
		return nil, err
	}
	if o.Kernel != "" || o.Initrd != "" || o.Cmdline != "" {
		if o.Kernel == "" {
			return nil, flagError("kernel", "--initrd and --cmdline need --kernel")
		}
		g.Boot = &hvagent.Boot{Kernel: o.Kernel, Initrd: o.Initrd, Cmdline: o.Cmdline}
	}
	return g, nil
}

// readGuestFile decodes a guest's JSON strictly from path, or in for "-".
func readGuestFile(path string, in io.Reader) (*hvagent.Guest, error) {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(in)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, flagError("file", "%v", err)
	}
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil, flagError("file", "%s: not a guest: expected a JSON object, got null", path)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var g hvagent.Guest
	if err := dec.Decode(&g); err != nil {
		return nil, flagError("file", "%s: not a guest: %v", path, err)
	}
	if dec.More() {
		return nil, flagError("file", "%s: more than one JSON value", path)
	}
	return &g, nil
}

// parseDisks parses the --disk values.
func parseDisks(values []string) ([]hvagent.Disk, error) {
	var disks []hvagent.Disk
	for _, v := range values {
		kv, err := parsePairs("disk", v, "image", "size", "bus")
		if err != nil {
			return nil, err
		}
		d := hvagent.Disk{Image: kv["image"], Bus: kv["bus"]}
		if s, ok := kv["size"]; ok {
			if d.Size, err = parseMB(s); err != nil {
				return nil, flagError("disk", "%q: size: %v", v, err)
			}
		}
		if (d.Image == "") == (d.Size == 0) {
			return nil, flagError("disk", "%q: give image=ID or size=SIZE", v)
		}
		disks = append(disks, d)
	}
	return disks, nil
}

// parseNics parses the --nic values.
func parseNics(values []string) ([]hvagent.Nic, error) {
	var nics []hvagent.Nic
	for _, v := range values {
		kv, err := parsePairs("nic", v, "network", "mac", "model", "name")
		if err != nil {
			return nil, err
		}
		if kv["network"] == "" {
			return nil, flagError("nic", "%q: network=BR is required", v)
		}
		nics = append(nics, hvagent.Nic{Network: kv["network"], MAC: kv["mac"], Model: kv["model"], Name: kv["name"]})
	}
	return nics, nil
}

// parsePairs parses "k=v,k=v" with keys among allowed.
func parsePairs(flag, value string, allowed ...string) (map[string]string, error) {
	kv := map[string]string{}
	for part := range strings.SplitSeq(value, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" {
			return nil, flagError(flag, "%q: %q is not key=value", value, part)
		}
		if !slices.Contains(allowed, k) {
			return nil, flagError(flag, "%q: unknown key %q (known: %s)", value, k, strings.Join(allowed, ", "))
		}
		if _, dup := kv[k]; dup {
			return nil, flagError(flag, "%q: %s is given twice", value, k)
		}
		kv[k] = v
	}
	return kv, nil
}

// parseKeyValues parses repeated key=value flag values into a map; an
// empty value is allowed (it deletes the key in a metadata patch).
func parseKeyValues(flag string, values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, flagError(flag, "%q is not key=value", v)
		}
		m[k] = val
	}
	return m, nil
}

// parseMB parses a size in MB: a number, or one with a unit M, G or T
// (powers of 1024; a trailing "B" or "iB" is allowed). 0 is a size: the
// agent tells where it means a default (memory) and where it is wrong.
func parseMB(s string) (uint64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := uint64(1)
	switch {
	case strings.HasSuffix(t, "M"):
		t = strings.TrimSuffix(t, "M")
	case strings.HasSuffix(t, "G"):
		t, mult = strings.TrimSuffix(t, "G"), 1024
	case strings.HasSuffix(t, "T"):
		t, mult = strings.TrimSuffix(t, "T"), 1024*1024
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if errors.Is(err, strconv.ErrRange) || (err == nil && n > math.MaxUint64/mult) {
		return 0, fmt.Errorf("%q is too large", s)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a size such as 512, 512M or 2G", s)
	}
	return n * mult, nil
}
