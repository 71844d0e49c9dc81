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

// probeFirmware returns a 64 KiB BIOS image that counts down a loop of
// 100 million iterations, then writes probeMarker to COM1 (port 0x3f8) and
// halts. Guest code must run, and at a useful speed: TCG finishes in about
// a second, a working KVM in a fraction of that, while a KVM that cannot
// really run guests (measured on nested hosts whose Linux guests hang) does
// not finish within probeTimeout.
func probeFirmware() []byte {
	b := bytes.Repeat([]byte{0xf4}, 64<<10) // hlt
	code := []byte{
		0x66, 0xb9, 0x00, 0xe1, 0xf5, 0x05, // mov ecx, 100000000
		0x66, 0x49, // loop: dec ecx
		0x75, 0xfc, // jnz loop
		0xba, 0xf8, 0x03, // mov dx, 0x3f8
		0xb0, 'O', 0xee, // mov al, 'O'; out dx, al
		0xb0, 'K', 0xee, // mov al, 'K'; out dx, al
		0xf4,       // halt: hlt
		0xeb, 0xfd, // jmp halt
	}
	copy(b, code)                                 // F000:0000
	copy(b[0xfff0:], []byte{0xea, 0, 0, 0, 0xf0}) // reset vector: jmp far F000:0000
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
			if b, _ := os.ReadFile(serial); bytes.Contains(b, []byte(probeMarker)) {
				return nil
			}
			return errors.New("the probe guest did not run: qemu exited")
		case <-ctx.Done():
			return fmt.Errorf("the probe guest did not finish its loop within %s", probeTimeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
