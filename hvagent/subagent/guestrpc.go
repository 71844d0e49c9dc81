package subagent

import (
	"strconv"

	"github.com/hvagent/hvagent/internal/jsonform"
)

// A guest action's stage is a call with a GuestRequest and a GuestResponse,
// each carrying a Guest: on the job path, encoding/json's reflection over
// them was a fifth of the process's CPU (both sides of an in-process call).
// These are the direct forms of the four steps, used by Client.Call and
// the Server for those two types. Each writes the bytes json.Marshal
// writes, or reads what json.Unmarshal reads from json.Marshal's form;
// any other input is declined (false) and left to encoding/json, so a
// sub-agent that writes its JSON another way is read as before.

// appendGuestRequestCall appends the envelope of a call of method with
// params p and id: the bytes of json.Marshal(request{method, [p], id}).
func appendGuestRequestCall(b []byte, method string, p *GuestRequest, id uint64) []byte {
	b = append(b, `{"method":`...)
	b = jsonform.AppendString(b, method)
	b = append(b, `,"params":[`...)
	b = appendGuestRequest(b, p)
	b = append(b, `],"id":`...)
	b = strconv.AppendUint(b, id, 10)
	return append(b, '}')
}

// appendGuestRequest appends json.Marshal(p)'s bytes.
func appendGuestRequest(b []byte, p *GuestRequest) []byte {
	b = appendGuestKey(b, `{"guest":`, p.Guest)
	b = append(b, `,"action":`...)
	b = jsonform.AppendString(b, p.Action)
	if len(p.Args) > 0 {
		b = appendStringMap(append(b, `,"args":`...), p.Args)
	}
	return append(b, '}')
}

// appendGuestReply appends the reply of a call with id to a
// GuestResponse: the bytes of json.Marshal(reply1{Result: r, ID: id}),
// where id is a plain integer (the caller checks it with plainID).
func appendGuestReply(b []byte, r *GuestResponse, id []byte) []byte {
	b = appendGuestKey(append(b, `{"result":`...), `{"guest":`, r.Guest)
	if r.Message != "" {
		b = append(b, `,"message":`...)
		b = jsonform.AppendString(b, r.Message)
	}
	if r.Retry != 0 {
		b = append(b, `,"retry":`...)
		b = strconv.AppendInt(b, int64(r.Retry), 10)
	}
	b = append(b, `},"error":null,"id":`...)
	b = append(b, id...)
	return append(b, '}')
}

// appendGuestKey appends key and g's JSON, null for none.
func appendGuestKey(b []byte, key string, g *Guest) []byte {
	b = append(b, key...)
	if g == nil {
		return append(b, "null"...)
	}
	return AppendGuest(b, g)
}

// plainID reports whether id, a request's raw id, is an integer that
// json.Marshal copies as it is (digits, no sign, no leading zero).
func plainID(id []byte) bool {
	if len(id) == 0 || len(id) > 20 || (id[0] == '0' && len(id) > 1) {
		return false
	}
	for _, c := range id {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseGuestParams reads a call's params holding one GuestRequest in
// json.Marshal's form ([{…}]) into *p, which must be zero (json.Unmarshal
// would merge into a value that is not); false, leaving *p alone, for
// anything else.
func parseGuestParams(raw []byte, p *GuestRequest) bool {
	if p.Guest != nil || p.Action != "" || p.Args != nil {
		return false
	}
	r := jsonform.NewReader(string(raw))
	r.Need(`[{"guest":`)
	v := GuestRequest{Guest: parseGuestOrNull(&r)}
	if r.Need(`,"action":`) {
		v.Action = r.Str()
	}
	if r.Key(`,"args":`) {
		v.Args = parseMetadata(&r)
	}
	r.Need(`}]`)
	if !r.Done() {
		return false
	}
	*p = v
	return true
}

// parseGuestReply reads a reply to call wantID carrying a GuestResponse, in
// the form json.Marshal gives reply1 (a trailing newline allowed, as
// Servers send it), into *resp, which must be zero; false, leaving *resp
// alone, for anything else, a failed call and another id included: those
// are decodeReply's to report.
func parseGuestReply(data []byte, wantID uint64, resp *GuestResponse) bool {
	if *resp != (GuestResponse{}) {
		return false
	}
	if n := len(data); n > 0 && data[n-1] == '\n' {
		data = data[:n-1]
	}
	r := jsonform.NewReader(string(data))
	r.Need(`{"result":{"guest":`)
	v := GuestResponse{Guest: parseGuestOrNull(&r)}
	if r.Key(`,"message":`) {
		v.Message = r.Str()
	}
	if r.Key(`,"retry":`) {
		v.Retry = r.Int()
	}
	r.Need(`},"error":null,"id":`)
	id := r.Digits()
	r.Need(`}`)
	if !r.Done() || !plainID([]byte(id)) || id != strconv.FormatUint(wantID, 10) {
		return false
	}
	*resp = v
	return true
}

// parseGuestOrNull reads a Guest object, or null for none.
func parseGuestOrNull(r *jsonform.Reader) *Guest {
	if r.Key(`null`) {
		return nil
	}
	g := parseGuest(r)
	return &g
}
