package qemu

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// qmpDialTimeout bounds connecting and the capabilities handshake when the
// caller's context has no earlier deadline. QMP serves one client at a
// time: a second client gets no greeting until the first leaves, so the
// handshake must not wait forever.
const qmpDialTimeout = 5 * time.Second

// maxQMPLine bounds one QMP message (a 64 KiB ringbuf-read in base64 is
// about 88 KiB).
const maxQMPLine = 4 << 20

// errQMPClosed is returned by commands on a connection that has ended.
var errQMPClosed = errors.New("qmp connection closed")

// QMPError is an error reply of QEMU to a QMP command.
type QMPError struct {
	Command string
	Class   string
	Desc    string
}

// Error names the command and QEMU's description.
func (e *QMPError) Error() string {
	return fmt.Sprintf("qmp %s: %s (%s)", e.Command, e.Desc, e.Class)
}

// qmpEvent is an asynchronous QMP event.
type qmpEvent struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// qmpMessage is any message QEMU sends after the greeting.
type qmpMessage struct {
	ID     *uint64         `json:"id"`
	Return json.RawMessage `json:"return"`
	Error  *struct {
		Class string `json:"class"`
		Desc  string `json:"desc"`
	} `json:"error"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// qmpConn is one QMP connection. Commands may be issued concurrently;
// events queue up without bound until read with events, so a slow reader of
// events never stalls command replies. It is a small client written for
// this driver rather than go-qemu's qmp.SocketMonitor, whose Connect and
// Run take no context or deadline (a QMP socket busy with another client
// blocks them forever) and whose unbuffered event channel stalls command
// replies and Disconnect while no one reads events.
type qmpConn struct {
	conn net.Conn
	done chan struct{} // closed when the reader ends (EOF or Close)

	wmu sync.Mutex // serializes writes

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan qmpMessage
	queue   []qmpEvent
	notify  chan struct{} // cap 1: signalled when an event is queued
	err     error         // why the reader ended
}

// dialQMP connects to the QMP socket at path and negotiates capabilities.
func dialQMP(ctx context.Context, path string) (*qmpConn, error) {
	ctx, cancel := context.WithTimeout(ctx, qmpDialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("connect qmp: %w", err)
	}
	deadline, _ := ctx.Deadline()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	r := bufio.NewReaderSize(conn, 64<<10)
	err = handshake(conn, r, deadline)
	if !stop() || err != nil {
		_ = conn.Close()
		if err == nil || ctx.Err() != nil {
			err = fmt.Errorf("qmp handshake: %w", context.Cause(ctx))
		}
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	c := &qmpConn{
		conn:    conn,
		done:    make(chan struct{}),
		pending: map[uint64]chan qmpMessage{},
		notify:  make(chan struct{}, 1),
		nextID:  1,
	}
	go c.read(r)
	return c, nil
}

// handshake reads the greeting and enables commands.
func handshake(conn net.Conn, r *bufio.Reader, deadline time.Time) error {
	_ = conn.SetDeadline(deadline)
	var greeting struct {
		QMP json.RawMessage `json:"QMP"`
	}
	if err := readLine(r, &greeting); err != nil {
		return fmt.Errorf("qmp greeting: %w", err)
	}
	if greeting.QMP == nil {
		return errors.New("qmp greeting: not a QMP server")
	}
	if _, err := conn.Write([]byte(`{"execute":"qmp_capabilities"}` + "\n")); err != nil {
		return fmt.Errorf("qmp handshake: %w", err)
	}
	for {
		var m qmpMessage
		if err := readLine(r, &m); err != nil {
			return fmt.Errorf("qmp handshake: %w", err)
		}
		if m.Error != nil {
			return fmt.Errorf("qmp handshake: %s", m.Error.Desc)
		}
		if m.Return != nil {
			return nil
		}
	}
}

// readLine reads one JSON message line into v.
func readLine(r *bufio.Reader, v any) error {
	line, err := readBounded(r)
	if err != nil {
		return err
	}
	return json.Unmarshal(line, v)
}

// readBounded reads one line of at most maxQMPLine bytes.
func readBounded(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxQMPLine {
			return nil, fmt.Errorf("qmp message longer than %d bytes", maxQMPLine)
		}
		if err == nil {
			return line, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
	}
}

// read dispatches replies and queues events until the connection ends.
func (c *qmpConn) read(r *bufio.Reader) {
	var err error
	for {
		var line []byte
		if line, err = readBounded(r); err != nil {
			break
		}
		var m qmpMessage
		if json.Unmarshal(line, &m) != nil {
			continue // not a message we understand; QMP lines are independent
		}
		c.dispatch(&m)
	}
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}

func (c *qmpConn) dispatch(m *qmpMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m.Event != "" {
		c.queue = append(c.queue, qmpEvent{Event: m.Event, Data: m.Data})
		select {
		case c.notify <- struct{}{}:
		default:
		}
		return
	}
	if m.ID == nil {
		return
	}
	if ch, ok := c.pending[*m.ID]; ok {
		delete(c.pending, *m.ID)
		ch <- *m
	}
}

// events returns the events queued since the last call, oldest first.
func (c *qmpConn) events() []qmpEvent {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue = nil
	return q
}

// run executes command with args (nil for none) and decodes its return
// value into out (nil to ignore it). It gives up when ctx ends.
func (c *qmpConn) run(ctx context.Context, command string, args, out any) error {
	ch := make(chan qmpMessage, 1)
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := c.send(ctx, id, command, args); err != nil {
		return err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return &QMPError{Command: command, Class: m.Error.Class, Desc: m.Error.Desc}
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(m.Return, out); err != nil {
			return fmt.Errorf("qmp %s: decode reply: %w", command, err)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("qmp %s: %w", command, errQMPClosed)
	case <-ctx.Done():
		return fmt.Errorf("qmp %s: %w", command, ctx.Err())
	}
}

// send writes one command line.
func (c *qmpConn) send(ctx context.Context, id uint64, command string, args any) error {
	msg := struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
		ID        uint64 `json:"id"`
	}{command, args, id}
	b, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("qmp %s: encode: %w", command, err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(qmpDialTimeout)
	}
	_ = c.conn.SetWriteDeadline(deadline)
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qmp %s: %w", command, err)
	}
	return nil
}

// close ends the connection and waits for the reader to stop.
func (c *qmpConn) close() {
	_ = c.conn.Close()
	<-c.done
}
