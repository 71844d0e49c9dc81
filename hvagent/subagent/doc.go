// Package subagent is the wire between hvagent and its sub-agents: the
// request and response types, a Client used by pipeline stages and a Server
// helper for writing sub-agents. It imports nothing else of hvagent.
//
// # Wire protocol
//
// The protocol is the original mistify-agent's JSON-RPC 1.0 dialect (the
// gorilla/rpc v1 JSON codec). A call is
//
//	POST /_mistify_RPC_
//	Content-Type: application/json
//
//	{"method":"Service.Method","params":[<request>],"id":<number>}
//
// and its reply is HTTP 200 with {"result":<response>,"error":null,"id":<same>},
// or {"result":null,"error":"<text>","id":<same>} when the method failed.
// An HTTP status >= 300 is a transport failure whose body text is the reason
// (by default a redirect is not followed).
// Calls carry the headers X-Hvagent-Job-ID and X-Hvagent-Attempt, which old
// sub-agents ignore and new ones may use to de-duplicate retried calls.
//
// Stream calls POST the plain request JSON, without an envelope, to a raw
// endpoint and read the raw 200 body.
//
// A Guest, and a guest action's call and reply (GuestRequest,
// GuestResponse), are written and read without reflection (AppendGuest,
// ParseGuest) in the one form json.Marshal gives; JSON in any other valid
// form (another key order, whitespace, escapes) is read by encoding/json,
// exactly as before.
//
// # Error codes
//
// A sub-agent may classify a failure with the response header
//
//	X-Hvagent-Error-Code: invalid | not_found | conflict
//
// on a method's error reply (HTTP 200, the body unchanged) or on a stream's
// error status (400, 404 or 409 by the code). Old clients ignore it; an
// unknown value is ignored. hvagent records the code in the job (a job that
// fails without one is a plain sub-agent failure). A handler gives a code
// by returning an error made with WithCode; a raw handler answers with
// WriteError.
//
// # Errors
//
// Every failed call is a *CallError whose Kind tells a transport failure,
// an HTTP error status, a method error, a null result and an undecodable
// reply apart. IsConnectError tells whether a call is safe to retry.
//
// # Servers
//
// Server answers original 1.0 requests byte for byte as the original codec
// did, and also JSON-RPC 2.0 requests and batches (up to 100 calls) in 2.0
// form. Handle registers typed methods; a panicking method becomes an error
// reply, not a crash.
// InProcess serves any handler without a TCP port.
package subagent
