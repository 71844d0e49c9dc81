package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/hvagent/hvagent/hvagent"
)

// jobView shows a job being waited for on ErrOut.
type jobView interface {
	// update shows the job as it is now.
	update(job *hvagent.Job)
	// close ends the view, given the job as it was last seen.
	close(job *hvagent.Job)
}

// newJobView returns a live view on a terminal, plain lines elsewhere.
func newJobView(ios *IOStreams) jobView {
	if ios.IsTTY {
		return &ttyView{w: ios.ErrOut, start: time.Now()}
	}
	return &plainView{w: ios.ErrOut}
}

// jobState is what a job's line says: its status and stage.
func jobState(j *hvagent.Job) string {
	s := string(j.Status)
	switch {
	case j.Status == hvagent.JobQueued && j.Position > 0:
		s += fmt.Sprintf(" (position %d)", j.Position)
	case j.Status == hvagent.JobRunning && j.Stage != "":
		s += " " + j.Stage
	}
	return s
}

// plainView prints a line when the status or stage changes, and one per
// tenth of a byte transfer.
type plainView struct {
	w      io.Writer
	last   string
	tenths int64
}

func (v *plainView) update(j *hvagent.Job) {
	if s := jobState(j); s != v.last {
		v.last = s
		_, _ = fmt.Fprintf(v.w, "job %s %s: %s\n", j.ID, j.Action, s)
	}
	if p := j.Progress; p != nil && p.Total > 0 {
		if t := p.Done * 10 / p.Total; t > v.tenths {
			v.tenths = t
			_, _ = fmt.Fprintf(v.w, "job %s %s: %d%% (%s of %s)\n", j.ID, j.Action, t*10, fmtBytes(p.Done), fmtBytes(p.Total))
		}
	}
}

func (v *plainView) close(j *hvagent.Job) { v.update(j) }

// ttyView keeps one live line: a spinner with the stage, or a progress bar
// while bytes are transferred; it ends with one plain line.
type ttyView struct {
	w     io.Writer
	start time.Time
	bar   *progressbar.ProgressBar
	bytes bool // bar counts bytes
}

func (v *ttyView) update(j *hvagent.Job) {
	desc := fmt.Sprintf("%s %s", j.Action, jobState(j))
	if p := j.Progress; p != nil && p.Total > 0 {
		if !v.bytes {
			v.clear()
			v.bar, v.bytes = newBar(v.w, p.Total, desc, true, 0), true
		}
		if v.bar.GetMax64() != p.Total {
			v.bar.ChangeMax64(p.Total)
		}
		v.bar.Describe(desc)
		_ = v.bar.Set64(p.Done)
		return
	}
	if v.bar == nil || v.bytes {
		v.clear()
		v.bar, v.bytes = newBar(v.w, -1, desc, false, 0), false
	}
	v.bar.Describe(desc)
}

func (v *ttyView) close(j *hvagent.Job) {
	v.clear()
	_, _ = fmt.Fprintf(v.w, "job %s %s: %s after %s\n", j.ID, j.Action, jobState(j), time.Since(v.start).Round(100*time.Millisecond))
}

// clear removes the live line.
func (v *ttyView) clear() {
	if v.bar != nil {
		_ = v.bar.Clear()
		_ = v.bar.Exit()
		v.bar = nil
	}
}

// newBar returns a live line on w: a progress bar of total, or a spinner
// when total is -1 (unknown); counts are shown as bytes when bytes is set.
// It is drawn only when updated (no goroutine of its own writes to w), at
// most once per throttle.
func newBar(w io.Writer, total int64, desc string, bytes bool, throttle time.Duration) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(total >= 0),
		progressbar.OptionThrottle(throttle),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true), progressbar.OptionShowCount(),
			progressbar.OptionShowTotalBytes(total >= 0))
	}
	return progressbar.NewOptions64(total, opts...)
}

// transferThrottle bounds how often a download's bar is drawn.
const transferThrottle = 100 * time.Millisecond

// transferView shows the bytes of a download on ErrOut: a progress bar on a
// terminal, one line at the end elsewhere.
type transferView struct {
	w     io.Writer
	tty   bool
	bar   *progressbar.ProgressBar
	total int64
	done  int64
}

// newTransferView returns a view of a transfer of size bytes (-1: unknown).
func newTransferView(ios *IOStreams, desc string, size int64) *transferView {
	v := &transferView{w: ios.ErrOut, tty: ios.IsTTY, total: size}
	if v.tty {
		v.bar = newBar(ios.ErrOut, size, desc, true, transferThrottle)
	}
	return v
}

// Write counts p as transferred.
func (v *transferView) Write(p []byte) (int, error) {
	v.done += int64(len(p))
	if v.bar != nil {
		_ = v.bar.Add(len(p))
	}
	return len(p), nil
}

// finish ends the view with a line saying what was written where.
func (v *transferView) finish(dest string) {
	if v.bar != nil {
		_ = v.bar.Clear()
		_ = v.bar.Exit()
	}
	_, _ = fmt.Fprintf(v.w, "wrote %s to %s\n", fmtBytes(v.done), dest)
}
