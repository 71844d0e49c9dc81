package main

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

var (
	openMarker  = regexp.MustCompile(`^<!-- bench:([a-z0-9-]+) -->$`)
	closeMarker = regexp.MustCompile(`^<!-- /bench:([a-z0-9-]+) -->$`)
)

// regionTitles head the sections Rewrite appends for regions the document
// does not have yet.
var regionTitles = map[string]string{
	regionTargets: "Targets",
	regionOther:   "Other benchmarks",
}

// Rewrite replaces the content of each region of doc named in regions:
// the lines between "<!-- bench:NAME -->" and "<!-- /bench:NAME -->",
// each marker alone on its line. Everything outside the regions is kept
// as it is; a region doc has but regions does not name is kept too. A
// region named in regions that doc lacks is appended at the end, in a
// section of its own. Markers that do not pair up (unclosed, nested,
// closed under another name, or a name used twice) are an error naming
// the line.
func Rewrite(doc string, regions map[string]string) (string, error) {
	lines := strings.SplitAfter(doc, "\n")
	var out strings.Builder
	seen := map[string]bool{}
	open, openLine := "", 0
	for i, line := range lines {
		text := strings.TrimSpace(line)
		if m := openMarker.FindStringSubmatch(text); m != nil {
			if open != "" {
				return "", fmt.Errorf("line %d: region %q opens inside region %q (line %d)", i+1, m[1], open, openLine)
			}
			if seen[m[1]] {
				return "", fmt.Errorf("line %d: region %q appears twice", i+1, m[1])
			}
			open, openLine, seen[m[1]] = m[1], i+1, true
			out.WriteString(line)
			if content, ok := regions[open]; ok {
				out.WriteString(ensureNewline(content))
			}
			continue
		}
		if m := closeMarker.FindStringSubmatch(text); m != nil {
			if m[1] != open {
				return "", fmt.Errorf("line %d: %q closes region %q, but the open region is %q", i+1, text, m[1], open)
			}
			open = ""
			out.WriteString(ensureNewline(line))
			continue
		}
		if _, replaced := regions[open]; open != "" && replaced {
			continue
		}
		out.WriteString(line)
	}
	if open != "" {
		return "", fmt.Errorf("line %d: region %q is never closed", openLine, open)
	}
	appendMissing(&out, regions, seen)
	return out.String(), nil
}

// Contents returns the content of each region of doc, by name; markers
// that do not pair up are an error, as in Rewrite.
func Contents(doc string) (map[string]string, error) {
	out := map[string]string{}
	open := ""
	var content strings.Builder
	for i, line := range strings.SplitAfter(doc, "\n") {
		text := strings.TrimSpace(line)
		if m := openMarker.FindStringSubmatch(text); m != nil {
			if open != "" {
				return nil, fmt.Errorf("line %d: region %q opens inside region %q", i+1, m[1], open)
			}
			open = m[1]
			content.Reset()
			continue
		}
		if m := closeMarker.FindStringSubmatch(text); m != nil {
			if m[1] != open {
				return nil, fmt.Errorf("line %d: %q closes region %q, but the open region is %q", i+1, text, m[1], open)
			}
			out[open], open = content.String(), ""
			continue
		}
		if open != "" {
			content.WriteString(line)
		}
	}
	return out, nil
}

// appendMissing appends a section for each region not seen, in name order.
func appendMissing(out *strings.Builder, regions map[string]string, seen map[string]bool) {
	for _, name := range slices.Sorted(maps.Keys(regions)) {
		if seen[name] {
			continue
		}
		title := regionTitles[name]
		if title == "" {
			title = "Benchmarks: " + name
		}
		if s := out.String(); s != "" && !strings.HasSuffix(s, "\n") {
			out.WriteString("\n")
		}
		fmt.Fprintf(out, "\n## %s\n\n<!-- bench:%s -->\n%s<!-- /bench:%s -->\n", title, name, ensureNewline(regions[name]), name)
	}
}

// ensureNewline returns s ending with a newline (or "" when empty).
func ensureNewline(s string) string {
	if s == "" || strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}
