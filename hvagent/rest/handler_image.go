package rest

import "github.com/hvagent/hvagent/hvagent"

// imageBody is the body of POST /images: the original's ImageRequest,
// whose dest the original ignored (and so does this one), plus sha256.
type imageBody struct {
	ID     string `json:"id"`
	Type   string `json:"type"`
	Source string `json:"source"`
	SHA256 string `json:"sha256"`
	Dest   string `json:"dest"` // ignored, as by the original
}

// imageType returns the image type of a request: fixed ("container") on
// /container_images, else ?type= or the body's type.
func imageType(fixed, asked string) (string, error) {
	if fixed == "" || asked == "" || asked == fixed {
		if fixed != "" {
			return fixed, nil
		}
		return asked, nil
	}
	return "", hvagent.Errorf(hvagent.EINVALID, "type %q does not match %s images", asked, fixed)
}

// listImages serves GET /images[?type=] and GET /container_images.
func (s *server) listImages(fixed string) apiFunc {
	return func(x *exchange) error {
		typ, err := imageType(fixed, x.query().Get("type"))
		if err != nil {
			return err
		}
		return s.imageInfo(x, hvagent.ActionListImages, &hvagent.ImageRequest{Type: typ})
	}
}

// getImage serves GET /images/{id}[?type=] and GET /container_images/{id}.
func (s *server) getImage(fixed string) apiFunc {
	return func(x *exchange) error {
		typ, err := imageType(fixed, x.query().Get("type"))
		if err != nil {
			return err
		}
		return s.imageInfo(x, hvagent.ActionGetImage, &hvagent.ImageRequest{ID: x.r.PathValue("id"), Type: typ})
	}
}

func (s *server) imageInfo(x *exchange, action string, ir *hvagent.ImageRequest) error {
	res, err := s.svc.Do(x.ctx(), action, "", hvagent.Request{Image: ir, RequestedBy: x.who.name})
	if err != nil {
		return err
	}
	return x.rawJSON(res.Body)
}

// fetchImage serves POST /images and POST /container_images: 202 Job.
func (s *server) fetchImage(fixed string) apiFunc {
	return func(x *exchange) error {
		var b imageBody
		if err := x.decodeRequired(&b, "an image {id, type, source, sha256}"); err != nil {
			return err
		}
		typ, err := imageType(fixed, b.Type)
		if err != nil {
			return err
		}
		ir := &hvagent.ImageRequest{ID: b.ID, Type: typ, Source: b.Source, SHA256: b.SHA256}
		return x.doAsync(asyncCall{
			action: hvagent.ActionFetchImage,
			req:    hvagent.Request{Image: ir},
		})
	}
}

// deleteImage serves DELETE /images/{id}[?type=] and DELETE
// /container_images/{id}: 202 Job.
func (s *server) deleteImage(fixed string) apiFunc {
	return func(x *exchange) error {
		typ, err := imageType(fixed, x.query().Get("type"))
		if err != nil {
			return err
		}
		if err := x.noBody(); err != nil {
			return err
		}
		return x.doAsync(asyncCall{
			action: hvagent.ActionDeleteImage,
			req:    hvagent.Request{Image: &hvagent.ImageRequest{ID: x.r.PathValue("id"), Type: typ}},
		})
	}
}
