package hvagent

import (
	"context"
	"fmt"

	"github.com/google/uuid"
)

// GuestNameRule says what a guest name is, for error messages.
const GuestNameRule = "a guest name is 1 to 63 of a-z, 0-9 and -, not starting or ending with -, not a UUID and not \"agent\""

// maxGuestName is the longest guest name: a DNS label.
const maxGuestName = 63

// ValidateGuestName checks that name is a guest name: a DNS label (1 to 63
// of a-z, 0-9 and -, not starting or ending with -) that does not parse as
// a UUID, so that it can never be mistaken for a guest ID, and is not
// "agent", the guest ID of host-level (image) jobs, so that a job filter
// by guest means one thing. Errors are EINVALID, naming the rule.
func ValidateGuestName(name string) error {
	if problem := givenNameProblem(name); problem != "" {
		return Errorf(EINVALID, "guest name %q %s: %s", name, problem, GuestNameRule)
	}
	return nil
}

// guestNameProblem says what is wrong with name, "" when nothing.
func guestNameProblem(name string) string {
	switch {
	case name == "":
		return "is empty"
	case len(name) > maxGuestName:
		return fmt.Sprintf("is %d characters long", len(name))
	case name[0] == '-' || name[len(name)-1] == '-':
		return "starts or ends with -"
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return fmt.Sprintf("has %q", r)
		}
	}
	if _, err := uuid.Parse(name); err == nil {
		return "is a UUID"
	}
	return ""
}

// givenNameProblem is guestNameProblem for a name being given to a guest
// (create, rename), which may not be "agent" either. A guest named so
// before the rule stays reachable by its name (ParseGuestRef).
func givenNameProblem(name string) string {
	if name == AgentGuestID {
		return "is reserved: it names the host's image jobs"
	}
	return guestNameProblem(name)
}

// ParseGuestRef tells a guest ID from a guest name: a string that parses as
// a UUID is an ID (returned in lowercase), any other must be a guest name.
// Exactly one of id and name is set when err is nil. Errors are EINVALID.
func ParseGuestRef(ref string) (id, name string, err error) {
	if ref == "" {
		return "", "", Errorf(EINVALID, "a guest ID or name is required")
	}
	if _, err := uuid.Parse(ref); err == nil {
		id, err := ParseGuestID(ref)
		return id, "", err
	}
	if guestNameProblem(ref) != "" {
		return "", "", Errorf(EINVALID, "guest %q is neither a guest ID (a UUID) nor a guest name (%s)", ref, GuestNameRule)
	}
	return "", ref, nil
}

// resolveGuest returns the guest that ref (an ID or a name) names.
// Errors: EINVALID, ENOTFOUND.
func (a *Agent) resolveGuest(ctx context.Context, ref string) (*Guest, error) {
	id, name, err := ParseGuestRef(ref)
	if err != nil {
		return nil, err
	}
	if id != "" {
		return a.store.Guest(ctx, id)
	}
	return a.store.GuestByName(ctx, name)
}

// RenameGuest sets the name of guest (an ID or a name) to name, or removes
// its name when name is "", in one transaction with a guest.updated event,
// and returns the guest. The jobs of the guest carry the new name.
// Errors: EINVALID (bad guest or name, naming the rule), ENOTFOUND,
// ECONFLICT (another guest has the name).
func (a *Agent) RenameGuest(ctx context.Context, guest, name string) (*Guest, error) {
	if name != "" {
		if err := ValidateGuestName(name); err != nil {
			return nil, err
		}
	}
	g, err := a.resolveGuest(ctx, guest)
	if err != nil {
		return nil, err
	}
	return a.store.RenameGuest(ctx, g.ID, name, a.now())
}

// resolveJobGuest turns a guest name in f.GuestID into the ID of the guest
// that has it, or when none has it into a GuestName filter (the jobs of a
// deleted guest keep its name).
func (a *Agent) resolveJobGuest(ctx context.Context, f JobFilter) (JobFilter, error) {
	if f.GuestID == "" || f.GuestID == AgentGuestID {
		return f, nil
	}
	id, name, err := ParseGuestRef(f.GuestID)
	if err != nil {
		return f, err
	}
	if id != "" {
		f.GuestID = id
		return f, nil
	}
	g, err := a.store.GuestByName(ctx, name)
	switch {
	case err == nil:
		f.GuestID = g.ID
	case ErrorCode(err) == ENOTFOUND:
		f.GuestID, f.GuestName = "", name
	default:
		return f, err
	}
	return f, nil
}
