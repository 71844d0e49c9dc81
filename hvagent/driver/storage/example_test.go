package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hvagent/hvagent/hvagent/driver/storage"
	"github.com/hvagent/hvagent/hvagent/subagent"
)

// A guest's disks are qcow2 files the hypervisor driver opens through each
// disk's Source; snapshots are named "guests/<guest>[/disk-<n>]@<name>".
func ExampleDriver_CreateGuestDisks() {
	dataDir, err := os.MkdirTemp("", "storage-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dataDir)
	d, err := storage.New(storage.Options{DataDir: dataDir})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	g := &subagent.Guest{ID: "6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60", Disks: []subagent.Disk{{Size: 16}}}
	resp, err := d.CreateGuestDisks(ctx, &subagent.GuestRequest{Guest: g})
	if err != nil {
		panic(err)
	}
	source, _ := filepath.Rel(dataDir, resp.Guest.Disks[0].Source)
	fmt.Println(source)

	snaps, err := d.CreateSnapshot(ctx, &subagent.SnapshotRequest{ID: "guests/" + g.ID, Dest: "first"})
	if err != nil {
		panic(err)
	}
	for _, s := range snaps.Snapshots {
		fmt.Println(s.ID, s.Size)
	}
	// Output:
	// guests/6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60/disk0.qcow2
	// guests/6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60@first 16
	// guests/6f3c1a52-8d0e-4c1b-9f7a-2b1d3e4f5a60/disk-0@first 16
}
