package hvagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/hvagent/hvagent/hvagent/subagent"
	"github.com/hvagent/hvagent/internal/namerule"
)

// runImageJob runs fetchImage or deleteImage; the result is the image.
func (a *Agent) runImageJob(ctx context.Context, job *Job, act ActionConfig, req *ImageRequest) (outcome, error) {
	mk := func(args map[string]string) *ImageRequest {
		r := *req
		r.Args = args
		return &r
	}
	resps, err := callEach[ImageRequest, subagent.ImageResponse](ctx, a, act, mk, job)
	if err != nil {
		return outcome{}, err
	}
	var images []*Image
	if r := last(resps); r != nil {
		images = r.Images
	}
	result, err := json.Marshal(pickImage(images, req.ID))
	return outcome{result: result}, err
}

// pickImage returns the image with id, else the first, else nil.
func pickImage(images []*Image, id string) *Image {
	var first *Image
	for _, im := range images {
		if im == nil {
			continue
		}
		if im.ID == id {
			return im
		}
		if first == nil {
			first = im
		}
	}
	return first
}

// imageID is what an image ID may contain.
var imageID = namerule.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*$`, 1, 255)

// imageIDRule says what imageID accepts, for error messages.
const imageIDRule = "must be 1-255 letters, digits and . _ : -, starting with a letter or digit"

// imageTypes returns the image types a request concerns: its own, or both
// disk ("") and container images when it names none.
func imageTypes(req *ImageRequest) []string {
	if req != nil && req.Type != "" {
		return []string{req.Type}
	}
	return []string{"", ContainerGuestType}
}

// doImage runs a host-level image action (base name).
func (a *Agent) doImage(ctx context.Context, base string, req Request) (*Result, error) {
	ir := req.Image
	if ir == nil {
		ir = &ImageRequest{}
	}
	if ir.Type != "" && ir.Type != ContainerGuestType {
		return nil, Errorf(EINVALID, "image type %q is not \"\" or %q", ir.Type, ContainerGuestType)
	}
	if base != ActionListImages && !imageID.MatchString(ir.ID) {
		if ir.ID == "" {
			return nil, Errorf(EINVALID, "missing id")
		}
		return nil, Errorf(EINVALID, "invalid image id %q: %s", ir.ID, imageIDRule)
	}
	switch base {
	case ActionListImages:
		images, err := a.queryImages(ctx, ActionListImages, ir)
		if err != nil {
			return nil, err
		}
		return jsonResult(images)
	case ActionGetImage:
		im, err := a.findImage(ctx, ir)
		if err != nil {
			return nil, err
		}
		return jsonResult(im)
	case ActionFetchImage:
		if err := a.validateFetch(ir); err != nil {
			return nil, err
		}
		return a.enqueueImage(ctx, ImageAction(base, ir.Type), ir, req)
	}
	im, err := a.findImage(ctx, ir) // deleteImage: find out its type first
	if err != nil {
		return nil, err
	}
	del := &ImageRequest{ID: im.ID, Type: im.Type}
	return a.enqueueImage(ctx, ImageAction(base, im.Type), del, req)
}

// validateFetch checks a fetch's source URL (a file:// path must lie under
// an allowed directory) and checksum.
func (a *Agent) validateFetch(ir *ImageRequest) error {
	if ir.Source != "" {
		u, err := url.Parse(ir.Source)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file") {
			return Errorf(EINVALID, "image source %q must be an http, https or file URL", ir.Source)
		}
		if u.Scheme == "file" && (u.Host != "" && u.Host != "localhost" || !a.allowedPath(u.Path)) {
			return Errorf(EINVALID, "image source %q: file:// sources must be absolute paths under an allowed directory (%s)",
				ir.Source, strings.Join(a.allowedDirs(), ", "))
		}
	}
	if ir.SHA256 != "" {
		if b, err := hex.DecodeString(ir.SHA256); err != nil || len(b) != sha256.Size {
			return Errorf(EINVALID, "sha256 %q must be 64 hex digits", ir.SHA256)
		}
	}
	return nil
}

// enqueueImage queues an image job on the image's own serial queue.
func (a *Agent) enqueueImage(ctx context.Context, name string, ir *ImageRequest, req Request) (*Result, error) {
	act, err := a.action(name)
	if err != nil {
		return nil, err
	}
	n := NewJob{Job: &Job{GuestID: AgentGuestID}, Queue: imageQueue(ir.Type, ir.ID)}
	job, err := a.enqueue(ctx, name, act, req, n, jobRequest{Image: ir})
	if err != nil {
		return nil, err
	}
	if job == nil {
		return &Result{Action: name, Pipeline: act.Stages}, nil
	}
	return &Result{Action: name, Job: job}, nil
}

// findImage looks an image up among the types the request concerns.
func (a *Agent) findImage(ctx context.Context, ir *ImageRequest) (*Image, error) {
	images, err := a.queryImages(ctx, ActionGetImage, ir)
	if err != nil {
		return nil, err
	}
	if im := pickImage(images, ir.ID); im != nil {
		return im, nil
	}
	return nil, Errorf(ENOTFOUND, "image %s not found", ir.ID)
}

// queryImages runs an image info action for each type and concatenates the
// results. An action that is not configured, and a sub-agent's "not found",
// contribute nothing; any other failure is an error.
func (a *Agent) queryImages(ctx context.Context, base string, ir *ImageRequest) ([]*Image, error) {
	lim := a.limitsFor(AgentGuestID)
	if err := acquire(ctx, lim.info); err != nil {
		return nil, err
	}
	defer func() { <-lim.info }()
	images := []*Image{}
	for _, typ := range imageTypes(ir) {
		found, err := a.queryImagesOf(ctx, base, typ, ir.ID)
		if err != nil {
			return nil, err
		}
		images = append(images, found...)
	}
	return images, nil
}

// queryImagesOf runs the image info action base for images of type typ
// (image id, for getImage). An action that is not configured, and a
// sub-agent's "not found", give no images.
func (a *Agent) queryImagesOf(ctx context.Context, base, typ, id string) ([]*Image, error) {
	act, ok := a.cfg.Actions[ImageAction(base, typ)]
	if !ok {
		return nil, nil
	}
	mk := func(args map[string]string) *ImageRequest { return &ImageRequest{ID: id, Type: typ, Args: args} }
	resps, err := callEach[ImageRequest, subagent.ImageResponse](ctx, a, act, mk, nil)
	if err != nil {
		if ErrorCode(callError(err, "not found")) == ENOTFOUND {
			return nil, nil
		}
		return nil, callError(err, "")
	}
	var images []*Image
	if r := last(resps); r != nil {
		for _, im := range r.Images {
			if im != nil {
				images = append(images, im)
			}
		}
	}
	return images, nil
}

// jsonResult wraps v as an info action's JSON body.
func jsonResult(v any) (*Result, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode result: %w", err)
	}
	return &Result{Body: b}, nil
}
