package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// Output formats of -o.
const (
	formatTable = "table"
	formatJSON  = "json"
)

// outputOptions are the -o and -q flags of commands that print data.
type outputOptions struct {
	// Format is "table" (for people, the default) or "json" (the API's
	// shapes, for scripts).
	Format string
	// Quiet prints only IDs, one a line.
	Quiet bool
}

// addOutputFlags adds -o and -q to cmd.
func addOutputFlags(cmd *cobra.Command, o *outputOptions) {
	cmd.Flags().StringVarP(&o.Format, "output", "o", formatTable, "output format: table or json")
	cmd.Flags().BoolVarP(&o.Quiet, "quiet", "q", false, "print only IDs, one a line")
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion(formatTable, formatJSON))
}

// validate checks the values of -o and -q.
func (o *outputOptions) validate() error {
	if o.Format != formatTable && o.Format != formatJSON {
		return flagError("output", "%q is not table or json", o.Format)
	}
	if o.Quiet && o.Format == formatJSON {
		return usageErrorf("-q and -o json cannot be used together")
	}
	return nil
}

// json reports whether the output is JSON.
func (o *outputOptions) json() bool { return o.Format == formatJSON }

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeRawJSON writes a JSON document as it came, indented.
func writeRawJSON(w io.Writer, raw json.RawMessage) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("agent sent invalid json: %w", err)
	}
	buf.WriteByte('\n')
	_, err := buf.WriteTo(w)
	return err
}

// writeLines writes each line followed by a newline (-q output), its
// control characters escaped (see printable).
func writeLines(w io.Writer, lines []string) error {
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, printable(l)); err != nil {
			return err
		}
	}
	return nil
}

// table writes aligned columns for people.
type table struct {
	tw *tabwriter.Writer
}

// newTable returns a table on w whose first row is header.
func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
	t.row(header...)
	return t
}

// row adds a row; empty cells show as "-".
func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = dash(c)
	}
	_, _ = fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

// flush writes the table out.
func (t *table) flush() error { return t.tw.Flush() }

// fields writes "Name:  value" lines, aligned, for one object.
type fields struct {
	tw *tabwriter.Writer
}

func newFields(w io.Writer) *fields {
	return &fields{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)}
}

// add writes one field; an empty value shows as "-".
func (f *fields) add(name, value string) {
	_, _ = fmt.Fprintf(f.tw, "%s:\t%s\n", name, dash(value))
}

func (f *fields) flush() error { return f.tw.Flush() }

// dash returns s printable, or "-" when s is empty.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return printable(s)
}

// fmtTime formats a time for people, in local time; "" when unset.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// fmtUint formats a number, "" for 0 (unset).
func fmtUint[T uint | uint64 | int](n T) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

// fmtBytes formats a byte count with binary units.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// fmtMap formats a map as sorted k=v pairs.
func fmtMap(m map[string]string) string {
	keys := sortedKeys(m)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// jobIDs returns the IDs of jobs.
func jobIDs(jobs []*hvagent.Job) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	return ids
}

// writeJobs prints jobs as a table, JSON or IDs.
func writeJobs(w io.Writer, o outputOptions, jobs []*hvagent.Job) error {
	switch {
	case o.json():
		return writeJSON(w, jobs)
	case o.Quiet:
		return writeLines(w, jobIDs(jobs))
	}
	t := newTable(w, "ID", "GUEST", "ACTION", "STATUS", "STAGE", "QUEUED", "MESSAGE")
	for _, j := range jobs {
		t.row(j.ID, jobGuest(j), j.Action, string(j.Status), j.Stage, fmtTime(j.QueuedAt), j.Message)
	}
	return t.flush()
}

// jobGuest names a job's guest in tables: its name when it has one, else
// its ID.
func jobGuest(j *hvagent.Job) string {
	if j.GuestName != "" {
		return j.GuestName
	}
	return j.GuestID
}

// writeJob prints one job in detail (table), as JSON or its ID.
func writeJob(w io.Writer, o outputOptions, j *hvagent.Job) error {
	switch {
	case o.json():
		return writeJSON(w, j)
	case o.Quiet:
		return writeLines(w, []string{j.ID})
	}
	f := newFields(w)
	f.add("ID", j.ID)
	f.add("Guest", j.GuestID)
	if j.GuestName != "" {
		f.add("Guest name", j.GuestName)
	}
	f.add("Action", j.Action)
	f.add("Status", string(j.Status))
	f.add("Stage", j.Stage)
	if j.Progress != nil {
		f.add("Progress", fmt.Sprintf("%s of %s", fmtBytes(j.Progress.Done), fmtBytes(j.Progress.Total)))
	}
	if j.Position > 0 {
		f.add("Position", fmt.Sprint(j.Position))
	}
	f.add("Attempt", fmtUint(j.Attempt))
	f.add("Message", j.Message)
	f.add("Requested by", j.RequestedBy)
	if j.IdempotencyKey != "" {
		f.add("Idempotency key", j.IdempotencyKey)
	}
	f.add("Queued", fmtTime(j.QueuedAt))
	f.add("Started", fmtTime(j.StartedAt))
	f.add("Stage started", fmtTime(j.StageStartedAt))
	f.add("Updated", fmtTime(j.UpdatedAt))
	f.add("Finished", fmtTime(j.FinishedAt))
	if len(j.Result) > 0 {
		f.add("Result", string(j.Result))
	}
	return f.flush()
}

// writePipeline prints the resolved pipeline of a dry run.
func writePipeline(w io.Writer, o outputOptions, action string, stages []hvagent.StageConfig) error {
	if stages == nil {
		stages = []hvagent.StageConfig{}
	}
	if o.json() {
		return writeJSON(w, struct {
			Action string                `json:"action"`
			Stages []hvagent.StageConfig `json:"stages"`
		}{action, stages})
	}
	t := newTable(w, "STAGE", "SERVICE", "METHOD", "ARGS")
	for i, s := range stages {
		t.row(fmt.Sprint(i+1), s.Service, s.Method, fmtMap(s.Args))
	}
	return t.flush()
}

// printable returns s with its control characters (C0, DEL and C1, tab
// and newline included) written as Go escapes (\n, \x1b): text a user
// stored, such as a metadata key or value, reaches a table cell or a line
// of -q output as one line, and never drives the terminal with escape
// sequences.
func printable(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !unicode.IsControl(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}
