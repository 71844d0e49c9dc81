package settings

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/hvagent/hvagent/hvagent/rest"
)

// Files is what the daemon part's files and names hold once read: the API
// tokens, the TCP listeners' TLS settings and the socket's group.
type Files struct {
	// Tokens are tokens_file's; nil without one.
	Tokens []rest.Token
	// TLS holds tls_cert and tls_key, and client_ca's pool when set (then
	// clients must present a certificate it signed); nil without TLS.
	TLS *tls.Config
	// SocketGID is socket_group's id; -1 without one.
	SocketGID int
}

// LoadFiles reads tokens_file, tls_cert with tls_key and client_ca, and
// looks socket_group up, as hvagentd does before it serves. Every problem
// is reported in one EINVALID error naming the key and the file.
func (d *Daemon) LoadFiles() (*Files, error) {
	f := &Files{SocketGID: -1}
	var problems []string
	if d.TokensFile != "" {
		var err error
		if f.Tokens, err = rest.LoadTokens(d.TokensFile); err != nil {
			problems = append(problems, "tokens_file: "+err.Error())
		}
	}
	tc, err := d.tlsConfig()
	if err != nil {
		problems = append(problems, err.Error())
	}
	f.TLS = tc
	if d.SocketGroup != "" {
		if f.SocketGID, err = lookupGroup(d.SocketGroup); err != nil {
			problems = append(problems, fmt.Sprintf("socket_group %s: %v", d.SocketGroup, err))
		}
	}
	if err := problemsError(problems); err != nil {
		return nil, err
	}
	return f, nil
}

// tlsConfig returns the TCP listeners' TLS settings, nil without TLS.
// With client_ca, clients must present a certificate it signed.
func (d *Daemon) tlsConfig() (*tls.Config, error) {
	if d.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(d.TLSCert, d.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("load tls_cert and tls_key: %w", err)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if d.ClientCA != "" {
		pem, err := os.ReadFile(d.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("read client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client_ca %s: no PEM certificate found", d.ClientCA)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// lookupGroup returns the id of a group given by name or id.
func lookupGroup(group string) (int, error) {
	g, err := user.LookupGroup(group)
	if err != nil {
		var unknown user.UnknownGroupError
		if !errors.As(err, &unknown) {
			return 0, err
		}
		if g, err = user.LookupGroupId(group); err != nil {
			return 0, errors.New("no such group")
		}
	}
	return strconv.Atoi(g.Gid)
}
