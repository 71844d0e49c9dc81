package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hvagent/hvagent/hvagent"
)

// newCmdImage returns `hvctl image` and its subcommands.
func newCmdImage(f *Factory) *cobra.Command {
	return newNounCmd("image", "Manage disk and container images",
		"List, inspect, fetch and delete the images guests' disks and containers are made from.\n"+
			"--type container selects container images; without it, list and show cover both kinds.",
		newCmdImageList(f, nil), newCmdImageShow(f, nil), newCmdImageFetch(f, nil), newCmdImageDelete(f, nil))
}

// addImageTypeFlag adds --type to an image command.
func addImageTypeFlag(cmd *cobra.Command, typ *string) {
	cmd.Flags().StringVar(typ, "type", "", `image type: "container", or empty for disk images`)
	_ = cmd.RegisterFlagCompletionFunc("type", fixedCompletion(hvagent.ContainerGuestType))
}

// checkImageType validates --type.
func checkImageType(typ string) error {
	if typ != "" && typ != hvagent.ContainerGuestType {
		return flagError("type", "%q is not container (or empty for disk images)", typ)
	}
	return nil
}

// ImageListOptions are the options of `hvctl image list`.
type ImageListOptions struct {
	cmdBase
	Out  outputOptions
	Type string
}

// newCmdImageList returns `hvctl image list`.
func newCmdImageList(f *Factory, runF func(*ImageListOptions) error) *cobra.Command {
	opts := &ImageListOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List images",
		Example: "  hvctl image list\n  hvctl image list --type container -o json",
		Args:    noArgs,
	}
	addOutputFlags(cmd, &opts.Out)
	addImageTypeFlag(cmd, &opts.Type)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, imageListRun, func([]string) error {
		if err := checkImageType(opts.Type); err != nil {
			return err
		}
		return opts.Out.validate()
	})
	return cmd
}

func imageListRun(opts *ImageListOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	res, err := svc.Do(opts.context(), hvagent.ActionListImages, "", hvagent.Request{Image: &hvagent.ImageRequest{Type: opts.Type}})
	if err != nil {
		return err
	}
	body, err := infoBody(res, "image list")
	if err != nil {
		return err
	}
	if opts.Out.json() {
		return writeRawJSON(opts.IO.Out, body)
	}
	var images []*hvagent.Image
	if err := json.Unmarshal(body, &images); err != nil {
		return fmt.Errorf("decode images: %w", err)
	}
	return writeImages(opts.IO.Out, opts.Out, images)
}

// infoBody returns the JSON body of an info action's result.
func infoBody(res *hvagent.Result, what string) (json.RawMessage, error) {
	if res == nil || len(res.Body) == 0 {
		return nil, fmt.Errorf("%s: the agent returned no body", what)
	}
	return res.Body, nil
}

// writeImages prints images as a table or their IDs.
func writeImages(w io.Writer, o outputOptions, images []*hvagent.Image) error {
	if o.Quiet {
		ids := make([]string, len(images))
		for i, im := range images {
			ids[i] = im.ID
		}
		return writeLines(w, ids)
	}
	t := newTable(w, "ID", "TYPE", "SIZE", "STATUS")
	for _, im := range images {
		typ := im.Type
		if typ == "" {
			typ = "disk"
		}
		t.row(im.ID, typ, fmtMB(im.Size), im.Status)
	}
	return t.flush()
}

// ImageShowOptions are the options of `hvctl image show`.
type ImageShowOptions struct {
	cmdBase
	Out  outputOptions
	ID   string
	Type string
}

// newCmdImageShow returns `hvctl image show`.
func newCmdImageShow(f *Factory, runF func(*ImageShowOptions) error) *cobra.Command {
	opts := &ImageShowOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:               "show ID",
		Short:             "Show an image",
		Example:           "  hvctl image show debian-12\n  hvctl image show nginx:1.27 --type container -o json",
		Args:              exactArgs("ID"),
		ValidArgsFunction: completeImageIDs(f),
	}
	addOutputFlags(cmd, &opts.Out)
	addImageTypeFlag(cmd, &opts.Type)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, imageShowRun, func(args []string) error {
		opts.ID = args[0]
		if err := checkImageType(opts.Type); err != nil {
			return err
		}
		return opts.Out.validate()
	})
	return cmd
}

func imageShowRun(opts *ImageShowOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	res, err := svc.Do(opts.context(), hvagent.ActionGetImage, "", hvagent.Request{Image: &hvagent.ImageRequest{ID: opts.ID, Type: opts.Type}})
	if err != nil {
		return err
	}
	body, err := infoBody(res, "image show")
	if err != nil {
		return err
	}
	if opts.Out.json() {
		return writeRawJSON(opts.IO.Out, body)
	}
	var im hvagent.Image
	if err := json.Unmarshal(body, &im); err != nil {
		return fmt.Errorf("decode image: %w", err)
	}
	if opts.Out.Quiet {
		return writeLines(opts.IO.Out, []string{im.ID})
	}
	fl := newFields(opts.IO.Out)
	fl.add("ID", im.ID)
	fl.add("Type", im.Type)
	fl.add("Size", fmtMB(im.Size))
	fl.add("Status", im.Status)
	fl.add("Volume", im.Volume)
	fl.add("Snapshot", im.Snapshot)
	return fl.flush()
}

// ImageFetchOptions are the options of `hvctl image fetch`.
type ImageFetchOptions struct {
	cmdBase
	Out    outputOptions
	Async  asyncOptions
	ID     string
	Type   string
	Source string
	SHA256 string
}

// newCmdImageFetch returns `hvctl image fetch`.
func newCmdImageFetch(f *Factory, runF func(*ImageFetchOptions) error) *cobra.Command {
	opts := &ImageFetchOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:   "fetch ID",
		Short: "Fetch an image into the agent",
		Long: "Fetch an image from --source (http, https, or file:// under an allowed directory; gzip is\n" +
			"accepted) and store it as ID, checking --sha256 when given. The fetch is queued as a job;\n" +
			"with --wait a progress bar shows the bytes received.",
		Example: "  hvctl image fetch debian-12 --source https://example.org/debian-12.qcow2 --sha256 9f86d0… --wait\n" +
			"  hvctl image fetch nginx:1.27 --type container --wait",
		Args: exactArgs("ID"),
	}
	addOutputFlags(cmd, &opts.Out)
	addAsyncFlags(cmd, &opts.Async, f)
	addImageTypeFlag(cmd, &opts.Type)
	cmd.Flags().StringVar(&opts.Source, "source", "", "where to fetch the image from: an http(s) or file:// URL")
	cmd.Flags().StringVar(&opts.SHA256, "sha256", "", "expected SHA-256 of the image, in hex")
	cmd.RunE = runE(opts, &opts.cmdBase, runF, imageFetchRun, func(args []string) error {
		opts.ID = args[0]
		if err := checkImageType(opts.Type); err != nil {
			return err
		}
		return validateAsync(&opts.Out, &opts.Async)
	})
	return cmd
}

func imageFetchRun(opts *ImageFetchOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	ir := &hvagent.ImageRequest{ID: opts.ID, Type: opts.Type, Source: opts.Source, SHA256: opts.SHA256}
	return runAsync(opts.context(), opts.IO, svc, opts.Out, opts.Async, submission{
		action: hvagent.ImageAction(hvagent.ActionFetchImage, opts.Type),
		req:    hvagent.Request{Image: ir},
	})
}

// ImageDeleteOptions are the options of `hvctl image delete`.
type ImageDeleteOptions struct {
	cmdBase
	Out   outputOptions
	Async asyncOptions
	ID    string
	Type  string
}

// newCmdImageDelete returns `hvctl image delete`.
func newCmdImageDelete(f *Factory, runF func(*ImageDeleteOptions) error) *cobra.Command {
	opts := &ImageDeleteOptions{cmdBase: newBase(f)}
	cmd := &cobra.Command{
		Use:               "delete ID",
		Aliases:           []string{"rm"},
		Short:             "Delete an image",
		Long:              "Delete an image. The delete is queued as a job.",
		Example:           "  hvctl image delete debian-12 --wait",
		Args:              exactArgs("ID"),
		ValidArgsFunction: completeImageIDs(f),
	}
	addOutputFlags(cmd, &opts.Out)
	addAsyncFlags(cmd, &opts.Async, f)
	addImageTypeFlag(cmd, &opts.Type)
	cmd.RunE = runE(opts, &opts.cmdBase, runF, imageDeleteRun, func(args []string) error {
		opts.ID = args[0]
		if err := checkImageType(opts.Type); err != nil {
			return err
		}
		return validateAsync(&opts.Out, &opts.Async)
	})
	return cmd
}

func imageDeleteRun(opts *ImageDeleteOptions) error {
	svc, err := opts.Service()
	if err != nil {
		return err
	}
	return runAsync(opts.context(), opts.IO, svc, opts.Out, opts.Async, submission{
		action: hvagent.ImageAction(hvagent.ActionDeleteImage, opts.Type),
		req:    hvagent.Request{Image: &hvagent.ImageRequest{ID: opts.ID, Type: opts.Type}},
	})
}
