package qemu_test

import (
	"context"
	"fmt"
	"os"

	"github.com/hvagent/hvagent/hvagent/driver/qemu"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// A guest definition gets the driver's defaults; nothing runs until Start.
func ExampleDriver_CreateGuest() {
	dir, err := os.MkdirTemp("", "hvagent-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	d, err := qemu.New(ctx, qemu.Options{DataDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()

	g, err := d.CreateGuest(ctx, &subagent.Guest{
		ID:    "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60",
		Disks: []subagent.Disk{{Size: 1024}},
		Nics:  []subagent.Nic{{Network: "br0"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.State, g.Memory, g.CPU, g.Disks[0].Bus, g.Disks[0].Device)
	fmt.Println(g.Nics[0].Name, g.Nics[0].Model, g.Nics[0].MAC, g.Nics[0].Device)

	_, err = d.Suspend(ctx, g)
	fmt.Println(err)
	// Output:
	// shutoff 512 1 virtio vda
	// net0 virtio 52:54:00:e2:cd:95 hv60d890293b0
	// guest 6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60 is not running (state shutoff)
}
