package subagent

// The direct codecs of a guest call, for the differential tests of
// guestrpc_test.go (an external test package: they need internal/guestgen,
// which imports the root, which imports this package).
var (
	AppendGuestRequestCall = appendGuestRequestCall
	AppendGuestReply       = appendGuestReply
	ParseGuestParams       = parseGuestParams
	ParseGuestReply        = parseGuestReply
	DecodeParams           = decodeParams
	DecodeReply            = decodeReply
)

// Request and Reply1 are the envelopes encoding/json writes without the
// direct codecs.
type (
	Request = request
	Reply1  = reply1
)
