package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// exampleGuest is the guest of the snapshot examples, by name.
const exampleGuest = "web1"

// newCmdSnapshot returns `hvctl snapshot` and its subcommands.
func newCmdSnapshot(f *Factory) *cobra.Command {
	return newNounCmd("snapshot", "Manage snapshots of guests and disks",
		"Snapshots are of a whole guest (every disk), or with --disk N of its disk N (from 0).\n"+
			"Create, delete and rollback queue a job on the guest; download streams the data.",
		newCmdSnapshotList(f, nil), newCmdSnapshotCreate(f, nil), newCmdSnapshotShow(f, nil),
		newCmdSnapshotDelete(f, nil), newCmdSnapshotRollback(f, nil), newCmdSnapshotDownload(f, nil))
}

// snapshotTarget is the guest (and disk) a snapshot command acts on.
type snapshotTarget struct {
	GuestID string
	// Disk is the disk's index; nil means the whole guest.
	Disk *int
	disk int
	// refGuest is the guest of a full snapshot reference (see setRef).
	refGuest string
}

// addDiskFlag adds --disk.
func (t *snapshotTarget) addDiskFlag(cmd *cobra.Command) {
	cmd.Flags().IntVar(&t.disk, "disk", 0, "act on this disk of the guest (from 0) instead of the whole guest")
}

// resolve sets Disk when --disk was given.
func (t *snapshotTarget) resolve(cmd *cobra.Command) error {
	if !cmd.Flags().Changed("disk") {
		return nil
	}
	if t.disk < 0 {
		return flagError("disk", "must not be negative")
	}
	d := t.disk
	t.Disk = &d
	return nil
}

// request is the Request of snapshot name on the target.
func (t *snapshotTarget) request(name string) hvagent.Request {
	return hvagent.Request{Disk: t.Disk, Snapshot: name}
}

// SnapshotListOptions are the options of `hvctl snapshot list`.
type SnapshotListOptions struct {
	cmdBase
	snapshotTarget
	Out outputOptions
}

// newCmdSnapshotList returns `hvctl snapshot list`.
func newCmdSnapshotList(f *Factory, runF func(*SnapshotListOptions) error) *cobra.Command {
	opts := &SnapshotListOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:               "list GUEST",
		Aliases:           []string{"ls"},
		Short:             "List a guest's or a disk's snapshots",
		Example:           fmt.Sprintf("  hvctl snapshot list %s\n  hvctl snapshot list %s --disk 1 -o json", exampleGuest, exampleGuest),
		Args:              exactArgs("GUEST"),
		ValidArgsFunction: completeGuestIDs(f),
	}
	addOutputFlags(cmd, &opts.Out)
	opts.addDiskFlag(cmd)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, snapshotListRun, func(args []string) error {
		opts.GuestID = args[0]
		if err := opts.resolve(cmd); err != nil {
			return err
		}
		return opts.Out.validate()
	})
	return cmd
}

func snapshotListRun(opts *SnapshotListOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	res, err := svc.Do(opts.context(), hvagent.ActionListSnapshots, opts.GuestID, opts.request(""))
	if err != nil {
		return err
	}
	body, err := infoBody(res, "snapshot list")
	if err != nil {
		return err
	}
	if opts.Out.json() {
		return writeRawJSON(opts.IO.Out, body)
	}
	var snaps []*hvagent.Snapshot
	if err := json.Unmarshal(body, &snaps); err != nil {
		return fmt.Errorf("decode snapshots: %w", err)
	}
	if opts.Out.Quiet {
		ids := make([]string, len(snaps))
		for i, s := range snaps {
			ids[i] = s.ID
		}
		return writeLines(opts.IO.Out, ids)
	}
	t := newTable(opts.IO.Out, "ID", "SIZE")
	for _, s := range snaps {
		t.row(s.ID, fmtMB(s.Size))
	}
	return t.flush()
}

// SnapshotShowOptions are the options of `hvctl snapshot show`.
type SnapshotShowOptions struct {
	cmdBase
	snapshotTarget
	Out  outputOptions
	Name string
}

// newCmdSnapshotShow returns `hvctl snapshot show`.
func newCmdSnapshotShow(f *Factory, runF func(*SnapshotShowOptions) error) *cobra.Command {
	opts := &SnapshotShowOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:               "show GUEST NAME",
		Short:             "Show a snapshot",
		Example:           fmt.Sprintf("  hvctl snapshot show %s nightly\n  hvctl snapshot show %s nightly --disk 0 -o json", exampleGuest, exampleGuest),
		Args:              exactArgs("GUEST", "NAME"),
		ValidArgsFunction: completeGuestIDs(f),
	}
	addOutputFlags(cmd, &opts.Out)
	opts.addDiskFlag(cmd)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, snapshotShowRun, func(args []string) error {
		opts.GuestID = args[0]
		if err := opts.resolve(cmd); err != nil {
			return err
		}
		var err error
		if opts.Name, err = opts.setRef(args[1]); err != nil {
			return err
		}
		return opts.Out.validate()
	})
	return cmd
}

func snapshotShowRun(opts *SnapshotShowOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	if err := opts.checkGuest(opts.context(), svc); err != nil {
		return err
	}
	res, err := svc.Do(opts.context(), hvagent.ActionGetSnapshot, opts.GuestID, opts.request(opts.Name))
	if err != nil {
		return err
	}
	body, err := infoBody(res, "snapshot show")
	if err != nil {
		return err
	}
	if opts.Out.json() {
		return writeRawJSON(opts.IO.Out, body)
	}
	var s hvagent.Snapshot
	if err := json.Unmarshal(body, &s); err != nil {
		return fmt.Errorf("decode snapshot: %w", err)
	}
	if opts.Out.Quiet {
		return writeLines(opts.IO.Out, []string{s.ID})
	}
	fl := newFields(opts.IO.Out)
	fl.add("ID", s.ID)
	fl.add("Size", fmtMB(s.Size))
	return fl.flush()
}

// SnapshotJobOptions are the options of the snapshot commands that queue a
// job: create, delete and rollback.
type SnapshotJobOptions struct {
	cmdBase
	snapshotTarget
	Out   outputOptions
	Async asyncOptions
	// Action is createSnapshot, deleteSnapshot or rollbackSnapshot.
	Action string
	// Now names a snapshot created without a name.
	Now func() time.Time
	// Name is the snapshot; for create, "" lets the agent name it.
	Name string
	// DestroyMoreRecent lets rollback destroy newer snapshots.
	DestroyMoreRecent bool
}

// newCmdSnapshotCreate returns `hvctl snapshot create`.
func newCmdSnapshotCreate(f *Factory, runF func(*SnapshotJobOptions) error) *cobra.Command {
	cmd, _ := newSnapshotJobCmd(f, runF, hvagent.ActionCreateSnapshot, &cobra.Command{
		Use:   "create GUEST [NAME]",
		Short: "Snapshot a guest or one of its disks",
		Long: "Snapshot every disk of a guest, or with --disk N its disk N, as NAME. Without NAME,\n" +
			"hvctl names it snap-<UTC date>-<time to the millisecond> and prints the name on stderr.\n" +
			"A running guest's snapshot is crash-consistent.",
		Example: fmt.Sprintf("  hvctl snapshot create %s nightly --wait\n  hvctl snapshot create %s --disk 1", exampleGuest, exampleGuest),
		Args:    rangeArgs(1, 2, "GUEST"),
	})
	return cmd
}

// newCmdSnapshotDelete returns `hvctl snapshot delete`.
func newCmdSnapshotDelete(f *Factory, runF func(*SnapshotJobOptions) error) *cobra.Command {
	cmd, _ := newSnapshotJobCmd(f, runF, hvagent.ActionDeleteSnapshot, &cobra.Command{
		Use:     "delete GUEST NAME",
		Aliases: []string{"rm"},
		Short:   "Delete a snapshot",
		Example: fmt.Sprintf("  hvctl snapshot delete %s nightly --wait", exampleGuest),
		Args:    exactArgs("GUEST", "NAME"),
	})
	return cmd
}

// newCmdSnapshotRollback returns `hvctl snapshot rollback`.
func newCmdSnapshotRollback(f *Factory, runF func(*SnapshotJobOptions) error) *cobra.Command {
	cmd, opts := newSnapshotJobCmd(f, runF, hvagent.ActionRollbackSnapshot, &cobra.Command{
		Use:   "rollback GUEST NAME",
		Short: "Roll a guest or disk back to a snapshot",
		Long: "Roll the guest's disks (or with --disk N its disk N) back to snapshot NAME. The guest\n" +
			"must be stopped. Newer snapshots are kept unless --destroy-more-recent allows the driver\n" +
			"to destroy them.",
		Example: fmt.Sprintf("  hvctl snapshot rollback %s nightly --wait", exampleGuest),
		Args:    exactArgs("GUEST", "NAME"),
	})
	cmd.Flags().BoolVar(&opts.DestroyMoreRecent, "destroy-more-recent", false, "allow destroying snapshots newer than NAME")
	return cmd
}

// newSnapshotJobCmd completes cmd as the snapshot command of action.
func newSnapshotJobCmd(f *Factory, runF func(*SnapshotJobOptions) error, action string, cmd *cobra.Command) (*cobra.Command, *SnapshotJobOptions) {
	opts := &SnapshotJobOptions{cmdBase: newBase(f), Action: action, Now: time.Now}
	cmd.ValidArgsFunction = completeGuestIDs(f)
	addOutputFlags(cmd, &opts.Out)
	addAsyncFlags(cmd, &opts.Async, f)
	opts.addDiskFlag(cmd)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, snapshotJobRun, func(args []string) error {
		opts.GuestID = args[0]
		if err := opts.resolve(cmd); err != nil {
			return err
		}
		if len(args) > 1 {
			var err error
			if opts.Name, err = opts.setRef(args[1]); err != nil {
				return err
			}
		}
		return validateAsync(&opts.Out, &opts.Async)
	})
	return cmd, opts
}

func snapshotJobRun(opts *SnapshotJobOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	if err := opts.checkGuest(opts.context(), svc); err != nil {
		return err
	}
	if opts.Name == "" && opts.Action == hvagent.ActionCreateSnapshot {
		opts.Name = newSnapshotName(opts.Now())
		_, _ = fmt.Fprintf(opts.IO.ErrOut, "snapshot name: %s\n", opts.Name)
	}
	req := opts.request(opts.Name)
	req.DestroyMoreRecent = opts.DestroyMoreRecent
	return runAsync(opts.context(), opts.IO, svc, opts.Out, opts.Async, submission{action: opts.Action, guest: opts.GuestID, req: req})
}

// SnapshotDownloadOptions are the options of `hvctl snapshot download`.
type SnapshotDownloadOptions struct {
	cmdBase
	snapshotTarget
	Name string
	// File is where the data goes; "-" is stdout.
	File string
}

// newCmdSnapshotDownload returns `hvctl snapshot download`.
func newCmdSnapshotDownload(f *Factory, runF func(*SnapshotDownloadOptions) error) *cobra.Command {
	opts := &SnapshotDownloadOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:   "download GUEST NAME -O FILE",
		Short: "Download a snapshot's data",
		Long: "Download a consistent export of snapshot NAME: of one disk with --disk N (a qcow2 image\n" +
			"with the real drivers), or of the whole guest (a tar of every disk's export). A progress\n" +
			"bar shows the bytes on a terminal. The file (mode 0600: it holds a guest's data) is written\n" +
			"only when the download is complete.",
		Example: fmt.Sprintf("  hvctl snapshot download %s nightly --disk 0 -O disk0.qcow2\n"+
			"  hvctl snapshot download %s nightly -O - | tar -t", exampleGuest, exampleGuest),
		Args:              exactArgs("GUEST", "NAME"),
		ValidArgsFunction: completeGuestIDs(f),
	}
	opts.addDiskFlag(cmd)
	cmd.Flags().StringVarP(&opts.File, "output-file", "O", "", `file to write ("-" = stdout); required`)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, snapshotDownloadRun, func(args []string) error {
		opts.GuestID = args[0]
		if err := checkOutputFile(opts.File); err != nil {
			return err
		}
		if err := opts.resolve(cmd); err != nil {
			return err
		}
		var err error
		opts.Name, err = opts.setRef(args[1])
		return err
	})
	return cmd
}

func snapshotDownloadRun(opts *SnapshotDownloadOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	if err := opts.checkGuest(opts.context(), svc); err != nil {
		return err
	}
	res, err := svc.Do(opts.context(), hvagent.ActionDownloadSnapshot, opts.GuestID, opts.request(opts.Name))
	if err != nil {
		return err
	}
	if res == nil || res.Stream == nil {
		return errors.New("snapshot download: the agent returned no stream")
	}
	defer res.Stream.Close()
	view := newTransferView(opts.IO, "download "+opts.Name, res.Size)
	if opts.File == "-" {
		if _, err := io.Copy(io.MultiWriter(opts.IO.Out, view), res.Stream); err != nil {
			return fmt.Errorf("download: %w", err)
		}
		view.finish("stdout")
		return nil
	}
	if err := writeFileAtomic(opts.File, io.TeeReader(res.Stream, view), res.Size); err != nil {
		return err
	}
	view.finish(opts.File)
	return nil
}

// checkOutputFile checks -O before anything is downloaded: given, and a
// file whose directory exists ("-" is stdout).
func checkOutputFile(path string) error {
	switch {
	case path == "":
		return flagError("output-file", "-O FILE is required (- for stdout)")
	case path == "-":
		return nil
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return flagError("output-file", "%s is a directory; name the file to write", path)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && !fi.IsDir():
		return flagError("output-file", "no directory %s to write %s in", dir, filepath.Base(path))
	case err != nil:
		return flagError("output-file", "%v", err)
	}
	return nil
}

// writeFileAtomic writes r to a temporary file beside path and renames it
// to path once complete: size bytes, unless size is -1 (unknown).
func writeFileAtomic(path string, r io.Reader, size int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".part-*")
	if err != nil {
		return fmt.Errorf("download to %s: %w", path, err)
	}
	n, err := io.Copy(tmp, r)
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("got %d bytes of %d", n, size)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("download to %s: %w", path, err)
	}
	return nil
}
