package sim

import (
	"cmp"
	"errors"
	"slices"

	"github.com/hvagent/hvagent/hvagent/subagent"
)

// ImageSize is the size in MB of every fetched image.
const ImageSize = 1024

// errNotFound is the error of a lookup of a missing image or snapshot,
// with code not_found; old agents rely on the exact text "not found".
var errNotFound = subagent.WithCode(subagent.CodeNotFound, errors.New("not found"))

// errNeedID is the error of an image request without an ID.
var errNeedID = subagent.WithCode(subagent.CodeInvalid, errors.New("need id"))

// imageKey identifies an image by type and ID: disk and container images
// live side by side.
func imageKey(typ, id string) string { return typ + "/" + id }

func noGuest[Req any](*Req) string { return "" }

func (d *Driver) registerImages(s *subagent.Server) {
	handle(d, s, "ListImages", noGuest, d.listImages)
	handle(d, s, "GetImage", noGuest, d.getImage)
	handle(d, s, "RequestImage", noGuest, d.requestImage)
	handle(d, s, "DeleteImage", noGuest, d.deleteImage)
}

// listImages returns the images of the request's type, sorted by ID.
func (d *Driver) listImages(req *subagent.ImageRequest) (*subagent.ImageResponse, error) {
	images := []*subagent.Image{}
	for _, img := range d.images {
		if img.Type == req.Type {
			c := *img
			images = append(images, &c)
		}
	}
	slices.SortFunc(images, func(a, b *subagent.Image) int { return cmp.Compare(a.ID, b.ID) })
	return &subagent.ImageResponse{Images: images}, nil
}

func (d *Driver) getImage(req *subagent.ImageRequest) (*subagent.ImageResponse, error) {
	img, ok := d.images[imageKey(req.Type, req.ID)]
	if !ok {
		return nil, errNotFound
	}
	c := *img
	return &subagent.ImageResponse{Images: []*subagent.Image{&c}}, nil
}

// requestImage simulates a fetch: the image appears complete at once.
// Fetching a known image returns it.
func (d *Driver) requestImage(req *subagent.ImageRequest) (*subagent.ImageResponse, error) {
	if req.ID == "" {
		return nil, errNeedID
	}
	key := imageKey(req.Type, req.ID)
	img, ok := d.images[key]
	if !ok {
		img = &subagent.Image{ID: req.ID, Type: req.Type, Size: ImageSize, Status: "complete"}
		d.images[key] = img
	}
	c := *img
	return &subagent.ImageResponse{Images: []*subagent.Image{&c}}, nil
}

// deleteImage removes an image and returns it; a missing image gives an
// empty list, so a repeated delete succeeds.
func (d *Driver) deleteImage(req *subagent.ImageRequest) (*subagent.ImageResponse, error) {
	if req.ID == "" {
		return nil, errNeedID
	}
	key := imageKey(req.Type, req.ID)
	images := []*subagent.Image{}
	if img, ok := d.images[key]; ok {
		images = append(images, img)
		delete(d.images, key)
	}
	return &subagent.ImageResponse{Images: images}, nil
}
