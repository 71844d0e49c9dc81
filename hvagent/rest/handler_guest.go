package rest

import (
	"net/http"

	"github.com/hvagent/hvagent/hvagent"
)

// listGuests serves GET /guests?limit=&after=&name=.
func (s *server) listGuests(x *exchange) error {
	var f hvagent.GuestFilter
	var err error
	if f.Limit, err = x.queryLimit(); err != nil {
		return err
	}
	if f.After, err = x.queryID("after"); err != nil {
		return err
	}
	if f.Name = x.query().Get("name"); f.Name != "" {
		if err := hvagent.ValidateGuestName(f.Name); err != nil {
			return err
		}
	}
	guests, err := s.svc.Guests(x.ctx(), f)
	if err != nil {
		return err
	}
	return replyList(x, http.StatusOK, guests)
}

// createGuest serves POST /guests: 202 with the guest as stored.
func (s *server) createGuest(x *exchange) error {
	var g hvagent.Guest
	if err := x.decodeRequired(&g, "a guest"); err != nil {
		return err
	}
	return x.doAsync(asyncCall{
		action: hvagent.ActionCreate,
		req:    hvagent.Request{Guest: &g},
		body:   func(res *hvagent.Result) any { return res.Guest },
	})
}

// getGuest serves GET /guests/{id}.
func (s *server) getGuest(x *exchange) error {
	id, err := x.pathGuest()
	if err != nil {
		return err
	}
	g, err := s.svc.Guest(x.ctx(), id)
	if err != nil {
		return err
	}
	return x.reply(http.StatusOK, g)
}

// guestPatch is the body of PATCH /guests/{id}.
type guestPatch struct {
	// Name is the new name; "" removes the guest's name.
	Name *string `json:"name"`
}

// patchGuest serves PATCH /guests/{id} {"name": ...}: renames the guest
// and answers 200 with it.
func (s *server) patchGuest(x *exchange) error {
	ref, err := x.pathGuest()
	if err != nil {
		return err
	}
	var p guestPatch
	if err := x.decodeRequired(&p, `{"name": "..."}`); err != nil {
		return err
	}
	if p.Name == nil {
		return hvagent.Errorf(hvagent.EINVALID, `request body: "name" is required (the new name, or "" to remove it)`)
	}
	g, err := s.svc.RenameGuest(x.ctx(), ref, *p.Name)
	if err != nil {
		return err
	}
	return x.reply(http.StatusOK, g)
}

// guestAction serves POST /guests/{id}/<action> and DELETE /guests/{id}:
// 202 with the guest as it was before the action.
func (s *server) guestAction(action string) apiFunc {
	return func(x *exchange) error {
		id, err := x.pathGuest()
		if err != nil {
			return err
		}
		if err := x.noBody(); err != nil {
			return err
		}
		return x.doAsync(asyncCall{
			action: action,
			guest:  id,
			body:   func(res *hvagent.Result) any { return res.Guest },
		})
	}
}

// guestJobs serves GET /guests/{id}/jobs: that guest's jobs only, 404 once
// the guest is gone (its history stays under GET /jobs?guest=).
func (s *server) guestJobs(x *exchange) error {
	ref, err := x.pathGuest()
	if err != nil {
		return err
	}
	f, err := x.jobFilter()
	if err != nil {
		return err
	}
	g, err := s.svc.Guest(x.ctx(), ref)
	if err != nil {
		return err
	}
	f.GuestID = g.ID
	jobs, err := s.svc.Jobs(x.ctx(), f)
	if err != nil {
		return err
	}
	return replyList(x, http.StatusOK, jobs)
}

// guestJob serves GET /guests/{id}/jobs/{jobID}: 404 unless the job is
// the guest's.
func (s *server) guestJob(x *exchange) error {
	ref, err := x.pathGuest()
	if err != nil {
		return err
	}
	jobID, err := x.pathID("jobID")
	if err != nil {
		return err
	}
	g, err := s.svc.Guest(x.ctx(), ref)
	if err != nil {
		return err
	}
	job, err := s.svc.Job(x.ctx(), jobID)
	if err != nil {
		return err
	}
	if job.GuestID != g.ID {
		return hvagent.Errorf(hvagent.ENOTFOUND, "job %s not found for guest %s", jobID, ref)
	}
	return x.reply(http.StatusOK, job)
}

// getGuestMetadata serves GET /guests/{id}/metadata.
func (s *server) getGuestMetadata(x *exchange) error {
	id, err := x.pathGuest()
	if err != nil {
		return err
	}
	md, err := s.svc.GuestMetadata(x.ctx(), id)
	if err != nil {
		return err
	}
	return x.reply(http.StatusOK, nonNilMap(md))
}

// patchGuestMetadata serves PATCH /guests/{id}/metadata.
func (s *server) patchGuestMetadata(x *exchange) error {
	id, err := x.pathGuest()
	if err != nil {
		return err
	}
	patch, err := x.metadataPatch()
	if err != nil {
		return err
	}
	md, err := s.svc.PatchGuestMetadata(x.ctx(), id, patch)
	if err != nil {
		return err
	}
	return x.reply(http.StatusOK, nonNilMap(md))
}

// guestInfo serves an info action of a guest (metrics): 200 with its body.
func (s *server) guestInfo(action string) apiFunc {
	return func(x *exchange) error {
		id, err := x.pathGuest()
		if err != nil {
			return err
		}
		res, err := s.svc.Do(x.ctx(), action, id, hvagent.Request{RequestedBy: x.who.name})
		if err != nil {
			return err
		}
		return x.rawJSON(res.Body)
	}
}

// console serves GET /guests/{id}/console as a byte stream (the log), or
// as an interactive console when the request asks for a WebSocket.
func (s *server) console(x *exchange) error {
	id, err := x.pathGuest()
	if err != nil {
		return err
	}
	if isWebSocket(x.r) {
		return s.consoleSocket(x, id)
	}
	res, err := s.svc.Do(x.ctx(), hvagent.ActionConsole, id, hvagent.Request{RequestedBy: x.who.name})
	if err != nil {
		return err
	}
	return x.stream(res)
}

// nonNilMap returns m, or an empty map for nil so that it encodes as {}.
func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
