package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// probeTimeout bounds a whole accelerator probe.
const probeTimeout = 10 * time.Second

// probeMarker is what the probe firmware writes to the serial port.
const probeMarker = "OK"

// probeFirmware returns a 64 KiB BIOS image whose reset vector writes
// probeMarker to COM1 (port 0x3f8) and halts: guest code that ran proves
// the accelerator executes guest instructions.
func probeFirmware() []byte {
	b := bytes.Repeat([]byte{0xf4}, 64<<10) // hlt
	code := []byte{
		0xba, 0xf8, 0x03, // mov dx, 0x3f8
		0xb0, 'O', 0xee, // mov al, 'O'; out dx, al
		0xb0, 'K', 0xee, // mov al, 'K'; out dx, al
		0xf4,       // hlt
		0xeb, 0xfd, // jmp back to hlt
	}
	copy(b[0xfff0:], code) // the reset vector, F000:FFF0
	return b
}

// probeAccel runs the probe firmware under accel and checks that it wrote
// its marker to the serial port.
func probeAccel(ctx context.Context, binary, accel string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "hvagent-probe-")
	if err != nil {
		return fmt.Errorf("probe %s: %w", accel, err)
	}
	defer os.RemoveAll(dir)
	fw := filepath.Join(dir, "probe.bin")
	if err := os.WriteFile(fw, probeFirmware(), 0o600); err != nil {
		return fmt.Errorf("probe %s: %w", accel, err)
	}
	serial := filepath.Join(dir, "serial.log")
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, "-accel", accel, "-nodefaults", "-display", "none",
		"-machine", "pc", "-m", "16", "-bios", fw, "-serial", "file:"+serial, "-no-reboot")
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("probe %s: %w", accel, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	err = waitForMarker(ctx, serial, exited)
	_ = cmd.Process.Kill()
	<-exited
	if err == nil {
		return nil
	}
	if waitErr != nil {
		err = fmt.Errorf("%w (qemu: %v)", err, waitErr)
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return fmt.Errorf("probe %s: %w", accel, err)
}

// waitForMarker polls the serial log for probeMarker until ctx ends or QEMU
// exits.
func waitForMarker(ctx context.Context, serial string, exited <-chan struct{}) error {
	for {
		if b, _ := os.ReadFile(serial); bytes.Contains(b, []byte(probeMarker)) {
			return nil
		}
		select {
		case <-exited:
			return errors.New("the probe guest did not run: qemu exited")
		case <-ctx.Done():
			return errors.New("the probe guest wrote nothing to its serial port in time")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
