package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	caFile, certFile, keyFile string
	roots                     *x509.CertPool
	client                    tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	issue := func(serial int64, usage x509.ExtKeyUsage, ips ...net.IP) ([]byte, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		return der, key
	}
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
		return path
	}
	keyDER := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalECPrivateKey(k)
		require.NoError(t, err)
		return b
	}
	p := &testPKI{roots: x509.NewCertPool()}
	p.roots.AddCert(ca)
	p.caFile = write("ca.pem", "CERTIFICATE", caDER)
	srvDER, srvKey := issue(2, x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	p.certFile = write("server.pem", "CERTIFICATE", srvDER)
	p.keyFile = write("server-key.pem", "EC PRIVATE KEY", keyDER(srvKey))
	cliDER, cliKey := issue(3, x509.ExtKeyUsageClientAuth)
	p.client = tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}
	return p
}

func TestDaemon_TLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	ctx := context.Background()

	t.Run("ServerOnly", func(t *testing.T) {
		t.Parallel()
		d := startDaemon(t, "--tls-cert", pki.certFile, "--tls-key", pki.keyFile)
		require.Equal(t, "net/http", serverKinds(d.Main)[listenerTCP], "TLS is served by net/http")
		c := newClient(t, "https://"+d.TCPAddr())
		c.TLSConfig = &tls.Config{RootCAs: pki.roots}
		_, err := c.Metadata(ctx)
		require.NoError(t, err)
		_, err = newClient(t, "http://"+d.TCPAddr()).Metadata(ctx)
		require.Error(t, err, "plain HTTP on a TLS listener")
	})
	t.Run("ClientCerts", func(t *testing.T) {
		t.Parallel()
		d := startDaemon(t, "--tls-cert", pki.certFile, "--tls-key", pki.keyFile, "--client-ca", pki.caFile)
		c := newClient(t, "https://"+d.TCPAddr())
		c.TLSConfig = &tls.Config{RootCAs: pki.roots, Certificates: []tls.Certificate{pki.client}}
		_, err := c.Metadata(ctx)
		require.NoError(t, err)

		anonymous := newClient(t, "https://"+d.TCPAddr())
		anonymous.TLSConfig = &tls.Config{RootCAs: pki.roots}
		_, err = anonymous.Metadata(ctx)
		require.Error(t, err, "no client certificate")
	})
	t.Run("BadFiles", func(t *testing.T) {
		t.Parallel()
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"--tls-cert", pki.keyFile, "--tls-key", pki.keyFile}, "load tls_cert and tls_key"},
			{[]string{"--tls-cert", pki.certFile, "--tls-key", pki.keyFile, "--client-ca", pki.keyFile}, "no PEM certificate found"},
			{[]string{"--tls-cert", pki.certFile, "--tls-key", pki.keyFile, "--client-ca", "/nonexistent/ca.pem"}, "read client_ca"},
		} {
			d, err := newDaemon(t, tt.args...)
			require.NoError(t, err)
			err = d.Run(ctx)
			require.NoError(t, d.Close())
			require.ErrorContains(t, err, tt.want)
		}
	})
}
