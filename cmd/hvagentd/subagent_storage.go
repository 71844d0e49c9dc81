package main

import (
	"context"
	"io"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent/driver/storage"
)

// storageOptions are the flags of "hvagentd subagent storage".
type storageOptions struct {
	listen       string
	dataDir      string
	allowedPaths []string
	qemuImg      string
	idleTimeout  time.Duration
	maxImageSize int64
}

// newSubagentStorageCmd returns "hvagentd subagent storage".
func newSubagentStorageCmd() *cobra.Command {
	opts := &storageOptions{}
	cmd := &cobra.Command{
		Use:   "storage",
		Short: "Serve the built-in storage driver (images, disks, snapshots with qemu-img) over HTTP",
		Long: "Serve the built-in storage driver as a sub-agent (service \"ImageStore\", download stream at\n" +
			storage.DownloadPath + "): qcow2 images, guest disks and snapshots under --data-dir. It prints\n" +
			"\"listening on <addr>\" once listening and stops on SIGINT or SIGTERM.",
		Args: needFlags("listen", "data-dir"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runStorage(cmd.Context(), opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.listen, "listen", "", "TCP address to listen on, such as 127.0.0.1:19999 (port 0 picks a free one)")
	f.StringVar(&opts.dataDir, "data-dir", "", "the data dir: images under <data-dir>/images, disks under <data-dir>/guests")
	f.StringSliceVar(&opts.allowedPaths, "allowed-path", nil, "a directory file:// image sources may be under, besides <data-dir>/images (repeatable)")
	f.StringVar(&opts.qemuImg, "qemu-img", storage.DefaultQemuImg, "the qemu-img binary")
	f.DurationVar(&opts.idleTimeout, "fetch-idle-timeout", storage.DefaultFetchIdleTimeout, "abort an image fetch that receives no data for this long")
	f.Int64Var(&opts.maxImageSize, "max-image-size", storage.DefaultMaxImageSize, "the largest image in bytes, fetched or decompressed")
	_ = cmd.MarkFlagRequired("listen")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}

func (o *storageOptions) validate() error {
	if o.idleTimeout <= 0 {
		return usageErrorf("--fetch-idle-timeout %s: must be positive", o.idleTimeout)
	}
	if o.maxImageSize <= 0 {
		return usageErrorf("--max-image-size %d: must be positive", o.maxImageSize)
	}
	return nil
}

// runStorage serves the storage driver until ctx ends.
func runStorage(ctx context.Context, opts *storageOptions, stdout, stderr io.Writer) error {
	if err := opts.validate(); err != nil {
		return err
	}
	logger := zerolog.New(stderr).With().Timestamp().Str("subagent", "storage").Logger()
	d, err := storage.New(storage.Options{
		DataDir: opts.dataDir, AllowedPaths: opts.allowedPaths, QemuImg: opts.qemuImg, Logger: logger,
		FetchIdleTimeout: opts.idleTimeout, MaxImageSize: opts.maxImageSize,
	})
	if err != nil {
		return err
	}
	ln, addr, err := listenAndReport(opts.listen, stdout)
	if err != nil {
		return err
	}
	logger.Info().Str("addr", addr).Str("data_dir", opts.dataDir).Msg("serving the storage driver")
	if err := serveHTTP(ctx, ln, d.Handler()); err != nil {
		return err
	}
	logger.Info().Msg("storage driver stopped")
	return nil
}
