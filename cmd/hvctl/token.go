package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent/rest"
)

// Tokens made by `hvctl token create`: tokenPrefix then tokenBytes random
// bytes in unpadded URL-safe base64.
const (
	tokenPrefix     = "hva_"
	tokenBytes      = 32
	maxTokenNameLen = 64
)

// tokenScopes are the scopes --scope accepts, weakest first.
var tokenScopes = []string{rest.ScopeRead, rest.ScopeWrite, rest.ScopeAdmin}

// newCmdToken returns `hvctl token`.
func newCmdToken(f *Factory) *cobra.Command {
	return newNounCmd("token", "Create API tokens for hvagentd's tokens file",
		"Create API tokens for hvagentd's tokens file (tokens_file, --tokens-file). Needs no agent.",
		newCmdTokenCreate(f, nil))
}

// TokenCreateOptions are the options of `hvctl token create`.
type TokenCreateOptions struct {
	cmdBase
	Out outputOptions
	// Name names the token's caller in job records and logs.
	Name string
	// Scope is read, write or admin.
	Scope string
	// Rand supplies the token's random bytes; nil is crypto/rand.
	Rand io.Reader
}

// createdToken is what `hvctl token create -o json` prints.
type createdToken struct {
	Name  string     `json:"name"`
	Scope string     `json:"scope"`
	Token string     `json:"token"`
	Entry rest.Token `json:"entry"`
}

// newCmdTokenCreate returns `hvctl token create`.
func newCmdTokenCreate(f *Factory, runF func(*TokenCreateOptions) error) *cobra.Command {
	opts := &TokenCreateOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:   "create NAME --scope read|write|admin",
		Short: "Create a token and print the entry to add to the tokens file",
		Long: "Create a new API token for the caller NAME: " + fmt.Sprint(tokenBytes) + " random bytes, printed on stdout as\n" +
			tokenPrefix + "<URL-safe base64>. stderr says how to use it and prints the entry to add to the JSON\n" +
			"list of hvagentd's tokens file: {\"name\",\"sha256\",\"scope\"}, where sha256 is the hex SHA-256\n" +
			"of the token (the file never holds the token itself); hvagentd reads the file when it starts.\n" +
			"The token is shown only now: store it as a secret. Scopes: read (every GET), write (read,\n" +
			"and changes to guests, images, snapshots, jobs and guest metadata), admin (write, and the\n" +
			"host's metadata, queue pause and resume, /debug).\n" +
			"NAME is 1 to " + fmt.Sprint(maxTokenNameLen) + " printable characters, unique in the file. -q prints only the token;\n" +
			"-o json prints {\"name\",\"scope\",\"token\",\"entry\"}. Needs no agent.",
		Example: "  hvctl token create ci --scope write\n" +
			"  hvctl token create ops --scope admin -o json",
		Args: exactArgs("NAME"),
	}
	cmd.Flags().StringVar(&opts.Scope, "scope", "", "what the token may do: read, write or admin (required)")
	cmd.Flags().StringVarP(&opts.Out.Format, "output", "o", formatTable, "output format: table or json")
	cmd.Flags().BoolVarP(&opts.Out.Quiet, "quiet", "q", false, "print only the token")
	_ = cmd.RegisterFlagCompletionFunc("scope", fixedCompletion(tokenScopes...))
	_ = cmd.RegisterFlagCompletionFunc("output", fixedCompletion(formatTable, formatJSON))
	cmd.RunE = runE(opts, &opts.cmdBase, runF, tokenCreateRun, func(args []string) error {
		opts.Name = args[0]
		return opts.validate()
	})
	return cmd
}

// validate checks NAME, --scope, -o and -q.
func (o *TokenCreateOptions) validate() error {
	if err := checkTokenName(o.Name); err != nil {
		return err
	}
	switch o.Scope {
	case "":
		return flagError("scope", "required: read, write or admin")
	case rest.ScopeRead, rest.ScopeWrite, rest.ScopeAdmin:
	default:
		return flagError("scope", "%q is not read, write or admin", o.Scope)
	}
	return o.Out.validate()
}

// checkTokenName requires name to be 1 to maxTokenNameLen printable
// characters without surrounding spaces.
func checkTokenName(name string) error {
	switch {
	case name == "":
		return usageErrorf("token name is empty")
	case !utf8.ValidString(name):
		return usageErrorf("token name %q is not valid UTF-8", name)
	case utf8.RuneCountInString(name) > maxTokenNameLen:
		return usageErrorf("token name is %d characters long, more than %d", utf8.RuneCountInString(name), maxTokenNameLen)
	case strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return usageErrorf("token name %q has a character that is not printable", name)
	case strings.TrimSpace(name) != name:
		return usageErrorf("token name %q starts or ends with a space", name)
	}
	return nil
}

// tokenCreateRun makes the token and prints it, with the tokens file's
// entry.
func tokenCreateRun(opts *TokenCreateOptions) error {
	secret, err := newToken(opts.Rand)
	if err != nil {
		return err
	}
	created := createdToken{Name: opts.Name, Scope: opts.Scope, Token: secret, Entry: tokenEntry(opts.Name, opts.Scope, secret)}
	switch {
	case opts.Out.json():
		return writeJSON(opts.IO.Out, created)
	case opts.Out.Quiet:
		_, err = fmt.Fprintln(opts.IO.Out, secret)
		return err
	}
	if _, err = fmt.Fprintln(opts.IO.Out, secret); err != nil {
		return err
	}
	return printTokenHelp(opts.IO.ErrOut, created)
}

// newToken returns tokenPrefix and tokenBytes bytes of r (crypto/rand when
// nil) in URL-safe base64.
func newToken(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read random bytes: %w", err)
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// tokenEntry is the tokens file's entry of secret: its hex SHA-256, never
// the secret.
func tokenEntry(name, scope, secret string) rest.Token {
	sum := sha256.Sum256([]byte(secret))
	return rest.Token{Name: name, SHA256: hex.EncodeToString(sum[:]), Scope: scope}
}

// printTokenHelp writes how to use the token and, as its last line, the
// tokens file's entry as one line of JSON.
func printTokenHelp(w io.Writer, c createdToken) error {
	entry, err := json.Marshal(c.Entry)
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	_, err = fmt.Fprintf(w, "Token %q (scope %s) is on stdout; it is shown only now: store it as a secret.\n"+
		"Use it with HVAGENT_TOKEN=<token> or hvctl --token <token>; over HTTP: Authorization: Bearer <token>.\n"+
		"Add this entry to the JSON list of hvagentd's tokens file (tokens_file, --tokens-file), then restart hvagentd:\n"+
		"%s\n", c.Name, c.Scope, entry)
	return err
}
