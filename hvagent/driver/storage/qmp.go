package storage

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hvagent/hvagent/internal/layout"
)

// qmpTimeout bounds a QMP exchange when the caller's context has no
// earlier deadline.
const qmpTimeout = 30 * time.Second

// maxQMPLine bounds one QMP message.
const maxQMPLine = 16 << 20

// qmpConn is a short-lived connection to a guest's storage QMP monitor.
type qmpConn struct {
	conn net.Conn
	r    *bufio.Reader
	stop func() bool
}

// qmpError is an error QEMU answered a command with.
type qmpError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

func (e *qmpError) Error() string { return e.Desc }

// dialQMP connects to the storage QMP monitor of guest and negotiates
// capabilities. It returns nil and no error when no QEMU serves the socket
// (the guest is not running): the socket is missing or refuses. A
// connection QEMU drops during the handshake (seen under load, while QEMU
// is still settling a previous client) is tried again, up to three times:
// no command has been sent yet.
func (d *Driver) dialQMP(ctx context.Context, guest string) (*qmpConn, error) {
	for try := 1; ; try++ {
		q, err := d.dialQMPOnce(ctx, guest)
		dropped := errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF)
		if !dropped || try == 3 || ctx.Err() != nil {
			return q, err
		}
		time.Sleep(time.Duration(try) * 20 * time.Millisecond)
	}
}

// dialQMPOnce is one try of dialQMP.
func (d *Driver) dialQMPOnce(ctx context.Context, guest string) (*qmpConn, error) {
	path := filepath.Join(layout.RunDir(d.dataDir, guest), layout.StorageSocket)
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "unix", path)
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("connect to the QMP monitor of guest %s: %w", guest, err)
	}
	deadline := time.Now().Add(qmpTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	q := &qmpConn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10)}
	q.stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	if _, err := q.read(); err != nil { // the greeting
		q.Close()
		return nil, fmt.Errorf("QMP monitor of guest %s: greeting: %w", guest, err)
	}
	if err := q.run("qmp_capabilities", nil, nil); err != nil {
		q.Close()
		return nil, fmt.Errorf("QMP monitor of guest %s: %w", guest, err)
	}
	return q, nil
}

// Close closes the connection.
func (q *qmpConn) Close() {
	q.stop()
	_ = q.conn.Close()
}

// qmpMessage is any message QEMU sends: a greeting, an event or a reply.
type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Event  string          `json:"event"`
	Return json.RawMessage `json:"return"`
	Error  *qmpError       `json:"error"`
}

// read reads one message.
func (q *qmpConn) read() (*qmpMessage, error) {
	var line []byte
	for {
		chunk, err := q.r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxQMPLine {
			return nil, fmt.Errorf("message longer than %d bytes", maxQMPLine)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, err
		}
		break
	}
	var m qmpMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return nil, fmt.Errorf("decode %q: %w", line, err)
	}
	return &m, nil
}

// run executes command with args and decodes its return value into ret
// (when not nil), skipping events.
func (q *qmpConn) run(command string, args, ret any) error {
	req := map[string]any{"execute": command}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", command, err)
	}
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	for {
		m, err := q.read()
		if err != nil {
			return fmt.Errorf("%s: %w", command, err)
		}
		switch {
		case m.Error != nil:
			return fmt.Errorf("%s: %w", command, m.Error)
		case m.Return != nil:
			if ret == nil {
				return nil
			}
			if err := json.Unmarshal(m.Return, ret); err != nil {
				return fmt.Errorf("%s: decode reply: %w", command, err)
			}
			return nil
		}
	}
}

// blockDevice is one entry of query-block.
type blockDevice struct {
	Device   string `json:"device"`
	Inserted *struct {
		NodeName string    `json:"node-name"`
		Image    imageInfo `json:"image"`
	} `json:"inserted"`
}

// images returns the image info of each drive, by drive ID.
func (q *qmpConn) images() (map[string]*imageInfo, error) {
	var devs []blockDevice
	if err := q.run("query-block", nil, &devs); err != nil {
		return nil, err
	}
	out := map[string]*imageInfo{}
	for _, dev := range devs {
		if dev.Inserted == nil {
			continue
		}
		info := dev.Inserted.Image
		if dev.Device != "" {
			out[dev.Device] = &info
		}
		if dev.Inserted.NodeName != "" {
			out[dev.Inserted.NodeName] = &info
		}
	}
	return out, nil
}

// snapshotAction is one action of a QMP transaction.
type snapshotAction struct {
	Type string            `json:"type"`
	Data map[string]string `json:"data"`
}

// createSnapshots takes internal snapshot name of every drive in one
// transaction: all or none.
func (q *qmpConn) createSnapshots(drives []string, name string) error {
	actions := make([]snapshotAction, len(drives))
	for i, drive := range drives {
		actions[i] = snapshotAction{Type: "blockdev-snapshot-internal-sync", Data: map[string]string{"device": drive, "name": name}}
	}
	return q.run("transaction", map[string]any{"actions": actions}, nil)
}

// deleteSnapshot deletes internal snapshot name of drive (QEMU has no
// transaction action for deletes).
func (q *qmpConn) deleteSnapshot(drive, name string) error {
	return q.run("blockdev-snapshot-delete-internal-sync", map[string]string{"device": drive, "name": name}, nil)
}
