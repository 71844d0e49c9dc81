package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hvagent/hvagent/hvagent/rest"
	"github.com/hvagent/hvagent/internal/settings"
)

// socketMode is the unix socket's mode: owner and group may connect.
const socketMode = 0o660

// maxSocketPath is the longest unix socket path Linux takes (sun_path is
// 108 bytes with its terminating NUL).
const maxSocketPath = 107

// listenTCP listens on addr, with TLS when tlsCfg is set and the
// connections counted by limits (total and per client); without TLS,
// net/http's own replies to unparsable requests are JSON (rest.Listener).
// Unless TCP clients must authenticate, the address bound must be loopback
// (a name such as "localhost" could resolve elsewhere).
func listenTCP(key, addr string, d *settings.Daemon, tlsCfg *tls.Config, limits *connLimits) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !d.Guarded() && (!ok || !tcp.IP.IsLoopback()) {
		_ = ln.Close()
		return nil, settings.InsecureError(key, ln.Addr().String())
	}
	ln = limits.wrap(ln, true)
	if tlsCfg != nil {
		return tls.NewListener(ln, tlsCfg), nil
	}
	return rest.Listener(ln), nil // net/http's own error replies in JSON
}

// hostsFor returns the Host values a loopback listener accepts: its own
// address and the localhost, 127.0.0.1 and [::1] forms of its port. Other
// listeners return nil (Host not checked): their clients authenticate and
// may name the host in ways the daemon cannot know.
func hostsFor(addr net.Addr) []string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !tcp.IP.IsLoopback() {
		return nil
	}
	port := strconv.Itoa(tcp.Port)
	hosts := []string{tcp.String()}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		if hp := net.JoinHostPort(h, port); hp != hosts[0] {
			hosts = append(hosts, hp)
		}
	}
	return hosts
}

// listenUnix listens on the unix socket at path with mode 0660, owned by
// group gid unless it is -1. A socket file left by a process that is gone is removed;
// one that answers is another server's and is an error.
func listenUnix(path string, gid int) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("socket %s: the path is %d bytes, longer than the %d a unix socket path may have: set a shorter socket (--socket, HVAGENT_SOCKET or \"socket\" in the config file)",
			path, len(path), maxSocketPath)
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	if err := os.Chmod(path, socketMode); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("socket mode: %w", err)
	}
	if gid != -1 {
		if err := os.Chown(path, -1, gid); err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("socket_group: %w", err)
		}
	}
	return ln, nil
}

// removeStaleSocket removes the socket file at path unless a server answers
// on it. A file that is not a socket is left alone and is an error.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("socket %s: the file exists and is not a socket", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		_ = conn.Close()
		return fmt.Errorf("socket %s is in use by another server", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}

// groupSearchable reports whether dir's group may traverse it.
func groupSearchable(dir string) bool {
	fi, err := os.Stat(dir)
	return err == nil && fi.Mode().Perm()&0o010 != 0
}
