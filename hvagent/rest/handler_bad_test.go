package rest_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// Test token secrets, one per scope.
const (
	readSecret  = "read-secret"
	writeSecret = "write-secret"
	adminSecret = "admin-secret"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func testTokens() []rest.Token {
	return []rest.Token{
		{Name: "reader", SHA256: sha256Hex(readSecret), Scope: rest.ScopeRead},
		{Name: "writer", SHA256: sha256Hex(writeSecret), Scope: rest.ScopeWrite},
		{Name: "root", SHA256: sha256Hex(adminSecret), Scope: rest.ScopeAdmin},
	}
}

// badRequest is one row of TestHandler_BadRequests.
type badRequest struct {
	name   string
	method string
	path   string
	body   any      // nil: none; string: raw JSON
	hdr    []string // header name, value pairs ("Host" sets the Host)
	token  string   // "" = admin token, "-" = none
	status int
	code   string
	msg    string // the message must contain this
	allow  string // the Allow header of a 405
}

// badFixture is what the bad-request rows refer to.
type badFixture struct {
	gp      string // "/guests/<id>" of a live guest
	other   string // another live guest
	gone    string // a deleted guest
	done    string // a finished job of gp's guest
	unknown string // a UUID nobody uses
}

func newBadFixture(t *testing.T, a *api) badFixture {
	t.Helper()
	g := a.env.Create(t, nil)
	gone := a.env.Create(t, nil)
	a.env.Wait(t, a.env.Do(t, hvagent.ActionDelete, gone.ID, hvagent.Request{}).Job.ID)
	jobs, err := a.env.Agent.Jobs(context.Background(), hvagent.JobFilter{GuestID: g.ID})
	require.NoError(t, err)
	return badFixture{
		gp: "/guests/" + g.ID, other: a.env.Create(t, nil).ID, gone: gone.ID, done: jobs[0].ID,
		unknown: "0b3c5d1e-0000-4000-8000-000000000001",
	}
}

// bodyRows are bad bodies, paths and query parameters.
func (f badFixture) bodyRows() []badRequest {
	gp, unknown, done := f.gp, f.unknown, f.done
	big := `{"id":"` + strings.Repeat("x", 2<<20) + `"}`
	return []badRequest{
		{"TruncatedJSON", "POST", "/guests", `{"memory":`, nil, "", 400, "invalid", "truncated JSON", ""},
		{"SyntaxError", "POST", "/guests", `{memory: 1}`, nil, "", 400, "invalid", "invalid JSON at offset", ""},
		{"UnknownField", "POST", "/guests", `{"memroy":512}`, nil, "", 400, "invalid", `"memroy"`, ""},
		{"WrongType", "POST", "/guests", `{"memory":"lots"}`, nil, "", 400, "invalid", `field "memory"`, ""},
		{"WrongNestedType", "POST", "/guests", `{"disks":[{"size":"big"}]}`, nil, "", 400, "invalid", `"disks.size"`, ""},
		{"NotAnObject", "POST", "/guests", `[1,2]`, nil, "", 400, "invalid", "expected", ""},
		{"TrailingGarbage", "POST", "/guests", `{"memory":1} {}`, nil, "", 400, "invalid", "unexpected data", ""},
		{"NoBody", "POST", "/guests", nil, nil, "", 400, "invalid", "required", ""},
		{"GuestIDNotUUID", "POST", "/guests", `{"id":"web-1"}`, nil, "", 400, "invalid", "uuid", ""},
		{"BadGuestName", "POST", "/guests", `{"name":"Web_1"}`, nil, "", 400, "invalid", "a guest name is 1 to 63", ""},
		{"RenameNoBody", "PATCH", gp, nil, nil, "", 400, "invalid", "required", ""},
		{"RenameNull", "PATCH", gp, `null`, nil, "", 400, "invalid", "expected a JSON object, got null", ""},
		{"RenameNoName", "PATCH", gp, `{}`, nil, "", 400, "invalid", `"name" is required`, ""},
		{"RenameUnknownField", "PATCH", gp, `{"name":"a","state":"running"}`, nil, "", 400, "invalid", `"state"`, ""},
		{"RenameBadName", "PATCH", gp, `{"name":"-a"}`, nil, "", 400, "invalid", "starts or ends with -", ""},
		{"RenameUnknownGuest", "PATCH", "/guests/no-such-guest", `{"name":"a"}`, nil, "", 404, "not_found", "no-such-guest", ""},
		{"BadNameFilter", "GET", "/guests?name=A", nil, nil, "", 400, "invalid", "guest name", ""},
		{"TooLarge", "POST", "/guests", big, nil, "", 413, "too_large", "larger than", ""},
		{"WrongContentType", "POST", "/guests", `{}`, []string{"Content-Type", "text/plain"}, "", 400, "invalid", "Content-Type must be application/json", ""},
		{"FormContentType", "PATCH", "/metadata", `a=b`, []string{"Content-Type", "application/x-www-form-urlencoded"}, "", 400, "invalid", "Content-Type", ""},
		{"BadGuestRef", "GET", "/guests/Not_A_Name", nil, nil, "", 400, "invalid", "neither a guest ID (a UUID) nor a guest name", ""},
		{"UnknownGuestName", "GET", "/guests/no-such-guest", nil, nil, "", 404, "not_found", `guest "no-such-guest" not found`, ""},
		{"UnknownGuestNameAction", "POST", "/guests/no-such-guest/start", nil, nil, "", 404, "not_found", "", ""},
		{"UnknownGuest", "GET", "/guests/" + unknown, nil, nil, "", 404, "not_found", "", ""},
		{"UnknownGuestAction", "POST", "/guests/" + unknown + "/start", nil, nil, "", 404, "not_found", "", ""},
		{"UnknownAction", "POST", gp + "/explode", nil, nil, "", 404, "not_found", "no route", ""},
		{"UnknownPath", "GET", "/nosuch", nil, nil, "", 404, "not_found", "no route", ""},
		{"TrailingSlash", "GET", "/guests/", nil, nil, "", 404, "not_found", "no route", ""},
		{"ActionBody", "POST", gp + "/start", `{"force":true}`, nil, "", 400, "invalid", `"force"`, ""},
		{"MethodGuest", "PUT", gp, `{}`, nil, "", 405, "method_not_allowed", "PUT", "DELETE, GET, HEAD, PATCH"},
		{"MethodJobs", "POST", "/jobs", nil, nil, "", 405, "method_not_allowed", "", "GET, HEAD"},
		{"MethodMetadata", "DELETE", "/metadata", nil, nil, "", 405, "method_not_allowed", "", "GET, HEAD, PATCH"},
		{"MethodAction", "GET", gp + "/start", nil, nil, "", 405, "method_not_allowed", "", "POST"},
		{"LimitZero", "GET", "/guests?limit=0", nil, nil, "", 400, "invalid", "limit", ""},
		{"LimitTooBig", "GET", "/jobs?limit=1001", nil, nil, "", 400, "invalid", "1000", ""},
		{"LimitNotNumber", "GET", "/guests?limit=ten", nil, nil, "", 400, "invalid", "limit", ""},
		{"LimitNegative", "GET", gp + "/jobs?limit=-1", nil, nil, "", 400, "invalid", "limit", ""},
		{"AfterNotUUID", "GET", "/guests?after=zz", nil, nil, "", 400, "invalid", "after", ""},
		{"BeforeNotUUID", "GET", "/jobs?before=zz", nil, nil, "", 400, "invalid", "before", ""},
		{"BadStatus", "GET", "/jobs?status=Done", nil, nil, "", 400, "invalid", "status", ""},
		{"BadActionFilter", "GET", "/jobs?action=explode", nil, nil, "", 400, "invalid", "explode", ""},
		{"BadGuestFilter", "GET", "/jobs?guest=Web_1", nil, nil, "", 400, "invalid", "guest", ""},
		{"JobIDNotUUID", "GET", "/jobs/42", nil, nil, "", 400, "invalid", "UUID", ""},
		{"UnknownJob", "GET", "/jobs/" + unknown, nil, nil, "", 404, "not_found", "", ""},
		{"UnknownJobWait", "GET", "/jobs/" + unknown + "?wait=1s", nil, nil, "", 404, "not_found", "", ""},
		{"WaitNotDuration", "GET", "/jobs/" + done + "?wait=forever", nil, nil, "", 400, "invalid", "wait", ""},
		{"WaitTooLong", "POST", gp + "/start?wait=6m", nil, nil, "", 400, "invalid", "5m", ""},
		{"WaitNegative", "POST", gp + "/start?wait=-1s", nil, nil, "", 400, "invalid", "wait", ""},
		{"DryRunNotBool", "POST", gp + "/start?dry_run=maybe", nil, nil, "", 400, "invalid", "dry_run", ""},
	}
}

// inputRows are unclean paths, bad UTF-8 and oversized headers: a JSON
// error, never a redirect or a silently altered value.
func (f badFixture) inputRows() []badRequest {
	gp, done := f.gp, f.done
	id := strings.TrimPrefix(gp, "/guests/")
	const clean = "is not in clean form"
	return []badRequest{
		{"PathDotDotDelete", "DELETE", "/images/../guests/" + id, nil, nil, "", 400, "invalid", `path "/images/../guests/` + id + `" ` + clean, ""},
		{"PathDotDotPost", "POST", "/jobs/../guests/" + id + "/stop", nil, nil, "", 400, "invalid", clean, ""},
		{"PathEncodedDotDot", "POST", "/guests/%2e%2e/guests/" + id + "/stop", nil, nil, "", 400, "invalid", clean, ""},
		{"PathDoubleSlash", "POST", "//guests", `{}`, nil, "", 400, "invalid", `path "//guests" ` + clean, ""},
		{"PathInnerDoubleSlash", "DELETE", "/jobs//" + done, nil, nil, "", 400, "invalid", clean, ""},
		{"PathDotSegment", "GET", "/guests/./" + id, nil, nil, "", 400, "invalid", clean, ""},
		{"PathTrailingDot", "GET", "/jobs/.", nil, nil, "", 400, "invalid", clean, ""},
		{"PathUncleanNoToken", "DELETE", "/images/../guests/" + id, nil, nil, "-", 401, "unauthenticated", "missing", ""},
		{"BadUTF8Create", "POST", "/guests", "{\"name\":\"web\xff\"}", nil, "", 400, "invalid", "request body: invalid UTF-8 at offset 12", ""},
		{"BadUTF8Metadata", "PATCH", gp + "/metadata", "{\"rack\":\"caf\xc3\"}", nil, "", 400, "invalid", "invalid UTF-8 at offset 12", ""},
		{"BadUTF8Key", "PATCH", "/metadata", "{\"\xed\xa0\x80\":\"x\"}", nil, "", 400, "invalid", "invalid UTF-8 at offset 2", ""},
		{"BadUTF8Image", "POST", "/images", "{\"id\":\"x\",\"source\":\"http://a/\xc0\xaf\"}", nil, "", 400, "invalid", "invalid UTF-8", ""},
		{"LoneSurrogateRename", "PATCH", gp, `{"name":"web\ud800"}`, nil, "", 400, "invalid", `lone UTF-16 surrogate \ud800 at offset 12`, ""},
		{"LoneSurrogateMetadata", "PATCH", gp + "/metadata", `{"rack\udc00":"x"}`, nil, "", 400, "invalid", "lone UTF-16 surrogate", ""},
		{"IdemKey256", "POST", gp + "/start", nil, []string{"Idempotency-Key", strings.Repeat("k", 256)}, "", 400, "invalid", "idempotency key is 256 bytes: the limit is 255", ""},
		{"IdemKey100K", "POST", "/guests", `{}`, []string{"Idempotency-Key", strings.Repeat("k", 100<<10)}, "", 400, "invalid", "idempotency key is 102400 bytes", ""},
		{"IdemKeyLongDryRun", "POST", gp + "/start?dry_run=true", nil, []string{"Idempotency-Key", strings.Repeat("k", 300)}, "", 400, "invalid", "the limit is 255", ""},
		{"QuerySemicolon", "DELETE", gp + "?a=1;dry_run=true", nil, nil, "", 400, "invalid", "query string: invalid semicolon separator in query", ""},
		{"QueryTrailingSemicolon", "POST", gp + "/start?dry_run=true;", nil, nil, "", 400, "invalid", "invalid semicolon separator", ""},
		{"QueryBadEscape", "GET", "/jobs?limit=%zz", nil, nil, "", 400, "invalid", `query string: invalid URL escape "%zz"`, ""},
		{"QueryTooMany", "DELETE", gp + "?dry_run=true&" + manyParams, nil, nil, "", 400, "invalid", "query string: ", ""},
		{"QueryRepeated", "POST", gp + "/start?dry_run=false&dry_run=true", nil, nil, "", 400, "invalid", `query parameter "dry_run" is given 2 times`, ""},
		{"IdemKeyTwice", "POST", gp + "/start", nil, []string{"Idempotency-Key", "a", "Idempotency-Key", "b"}, "", 400, "invalid", "2 Idempotency-Key headers: send one", ""},
		{"IdemKeyLongImage", "POST", "/images", `{"id":"x","source":"http://127.0.0.1:1/x"}`, []string{"Idempotency-Key", strings.Repeat("k", 256)}, "", 400, "invalid", "the limit is 255", ""},
	}
}

// stateRows are requests that are well formed but wrong for the state.
func (f badFixture) stateRows() []badRequest {
	gp, done := f.gp, f.done
	return []badRequest{
		{"CancelFinishedJob", "DELETE", "/jobs/" + done, nil, nil, "", 409, "conflict", "", ""},
		{"OtherGuestsJob", "GET", "/guests/" + f.other + "/jobs/" + done, nil, nil, "", 404, "not_found", "", ""},
		{"DeletedGuestJobs", "GET", "/guests/" + f.gone + "/jobs", nil, nil, "", 404, "not_found", "", ""},
		{"MetadataNotString", "PATCH", "/metadata", `{"rack":1}`, nil, "", 400, "invalid", `"rack"`, ""},
		{"MetadataNotObject", "PATCH", gp + "/metadata", `"rack"`, nil, "", 400, "invalid", "", ""},
		{"MetadataNull", "PATCH", "/metadata", `null`, nil, "", 400, "invalid", "null", ""},
		{"MetadataNoBody", "PATCH", "/metadata", nil, nil, "", 400, "invalid", "required", ""},
		{"MetadataEmptyKey", "PATCH", gp + "/metadata", `{"":"x"}`, nil, "", 400, "invalid", "empty", ""},
		{"MetadataKeyTooLong", "PATCH", gp + "/metadata", `{"` + strings.Repeat("k", 257) + `":"x"}`, nil, "", 400, "invalid", "more than the limit of 256", ""},
		{"MetadataValueTooLong", "PATCH", gp + "/metadata", `{"k":"` + strings.Repeat("v", 4097) + `"}`, nil, "", 400, "invalid", "more than the limit of 4096", ""},
		{"MetadataTooLarge", "PATCH", gp + "/metadata", bigMetadataPatch, nil, "", 413, "too_large", "more than the limit of 16384", ""},
		{"HostMetadataTooLarge", "PATCH", "/metadata", bigMetadataPatch, nil, "", 413, "too_large", "more than the limit of 16384", ""},
		{"DiskNotNumber", "GET", gp + "/disks/first/snapshots", nil, nil, "", 400, "invalid", "disk", ""},
		{"DiskMissing", "GET", gp + "/disks/9/snapshots", nil, nil, "", 404, "not_found", "disk 9", ""},
		{"SnapshotBadName", "POST", gp + "/snapshots", `{"dest":"bad name!"}`, nil, "", 400, "invalid", "snapshot name", ""},
		{"SnapshotTwoNames", "POST", gp + "/snapshots", `{"dest":"a","name":"b"}`, nil, "", 400, "invalid", "differ", ""},
		{"RollbackWrongType", "POST", gp + "/snapshots/s1/rollback", `{"destroyMoreRecent":"yes"}`, nil, "", 400, "invalid", "destroyMoreRecent", ""},
		{"UnknownSnapshot", "GET", gp + "/snapshots/nosuch", nil, nil, "", 404, "not_found", "", ""},
		{"BadLastEventID", "GET", "/events", nil, []string{"Last-Event-ID", "abc"}, "", 400, "invalid", "Last-Event-ID", ""},
		{"BadSince", "GET", "/events?since=-5", nil, nil, "", 400, "invalid", "since", ""},
		{"BadEventFormat", "GET", "/events?format=xml", nil, nil, "", 400, "invalid", `format "xml" must be json or sse`, ""},
		{"BadEventFormatPage", "GET", "/events?format=xml", nil, []string{"Accept", "application/json"}, "", 400, "invalid", `format "xml"`, ""},
		{"ImageBadType", "POST", "/images", `{"id":"x","type":"vm"}`, nil, "", 400, "invalid", "vm", ""},
		{"ImageMissingID", "POST", "/images", `{}`, nil, "", 400, "invalid", "missing id", ""},
		{"ImageBadSHA", "POST", "/images", `{"id":"x","sha256":"abc"}`, nil, "", 400, "invalid", "sha256", ""},
		{"ImageFileOutsideAllowed", "POST", "/images", `{"id":"x","source":"file:///etc/passwd"}`, nil, "", 400, "invalid", "file:// sources must be absolute paths under an allowed directory", ""},
		{"ImageFileRelative", "POST", "/images", `{"id":"x","source":"file://images/x.qcow2"}`, nil, "", 400, "invalid", "file:// sources", ""},
		{"ImageFileEscapes", "POST", "/images", `{"id":"x","source":"file:///var/lib/hvagent/images/../../../etc/shadow"}`, nil, "", 400, "invalid", "file:// sources", ""},
		{"ContainerImageType", "GET", "/container_images?type=vm", nil, nil, "", 400, "invalid", "container", ""},
		{"UnknownImage", "GET", "/images/nosuch", nil, nil, "", 404, "not_found", "nosuch", ""},
		{"PauseUnknownAction", "POST", "/queue/pause?action=explode", nil, nil, "", 400, "invalid", "explode", ""},
	}
}

// fieldRows are bodies and names refused before anything is stored: each
// message names the field and what it accepts.
func (f badFixture) fieldRows() []badRequest {
	gp := f.gp
	return []badRequest{
		{"CreateNull", "POST", "/guests", `null`, nil, "", 400, "invalid", "request body: expected a JSON object, got null", ""},
		{"CreateNullSpaced", "POST", "/guests", " null\n", nil, "", 400, "invalid", "expected a JSON object, got null", ""},
		{"SnapshotNull", "POST", gp + "/snapshots", `null`, nil, "", 400, "invalid", "expected a JSON object, got null", ""},
		{"RollbackNull", "POST", gp + "/snapshots/s1/rollback", `null`, nil, "", 400, "invalid", "expected a JSON object, got null", ""},
		{"ImageNull", "POST", "/images", `null`, nil, "", 400, "invalid", "expected a JSON object, got null", ""},
		{"GuestType", "POST", "/guests", `{"type":"lxc"}`, nil, "", 400, "invalid", `invalid guest: type "lxc": must be vm or container ("", kvm and qemu also mean vm)`, ""},
		{"GuestMAC", "POST", "/guests", `{"nics":[{"mac":"52:54:00:zz:00:01"}]}`, nil, "", 400, "invalid", `nics[0].mac "52:54:00:zz:00:01": must be six hex pairs separated by colons, such as 52:54:00:12:34:56`, ""},
		{"GuestMACMulticast", "POST", "/guests", `{"nics":[{"mac":"ff:ff:ff:ff:ff:ff"}]}`, nil, "", 400, "invalid", `nics[0].mac "ff:ff:ff:ff:ff:ff": is a multicast address`, ""},
		{"GuestNicModel", "POST", "/guests", `{"nics":[{"network":"br0","model":"virtio-net"}]}`, nil, "", 400, "invalid", `nics[0].model "virtio-net": must be one of virtio, e1000, rtl8139`, ""},
		{"GuestDiskBus", "POST", "/guests", `{"disks":[{"size":1,"bus":"sata"}]}`, nil, "", 400, "invalid", `disks[0].bus "sata": must be one of virtio, scsi, ide`, ""},
		{"GuestCPU", "POST", "/guests", `{"cpu":9}`, nil, "", 400, "invalid", "cpu 9: must be from 1 to 8 (the host's CPUs)", ""},
		{"GuestMemoryHigh", "POST", "/guests", `{"memory":40000}`, nil, "", 400, "invalid", "memory 40000 MB: must be from 16 to 32768 MB (the host's memory)", ""},
		{"GuestMemoryLow", "POST", "/guests", `{"memory":8}`, nil, "", 400, "invalid", "memory 8 MB: must be from 16 to 32768 MB", ""},
		{"GuestNoSuchImage", "POST", "/guests", `{"disks":[{"image":"debian-13"}]}`, nil, "", 400, "invalid", `disks[0].image "debian-13": no such image (the host has none)`, ""},
		{"GuestNoSuchImageDryRun", "POST", "/guests?dry_run=true", `{"disks":[{"image":"debian-13"}]}`, nil, "", 400, "invalid", `no such image`, ""},
		{"GuestNoSuchContainerImage", "POST", "/guests", `{"type":"container","image":"redis"}`, nil, "", 400, "invalid", `image "redis": no such container image`, ""},
		{"GuestMetadataEmptyKey", "POST", "/guests", `{"metadata":{"":"x"}}`, nil, "", 400, "invalid", `metadata: keys must not be empty`, ""},
		{"SnapshotAllDigits", "POST", gp + "/snapshots", `{"name":"20261130"}`, nil, "", 400, "invalid", `snapshot name "20261130": must be 1-128 letters, digits and _ - : ., not all digits`, ""},
		{"SnapshotTooLong", "POST", gp + "/snapshots", `{"dest":"` + strings.Repeat("s", 129) + `"}`, nil, "", 400, "invalid", `must be 1-128 letters`, ""},
		{"SnapshotDotDot", "POST", gp + "/snapshots", `{"dest":".."}`, nil, "", 400, "invalid", `snapshot name "..": must be`, ""},
		{"SnapshotGetBadName", "GET", gp + "/snapshots/bad%20name", nil, nil, "", 400, "invalid", `snapshot name "bad name": must be 1-128`, ""},
		{"SnapshotDeleteDigits", "DELETE", gp + "/snapshots/42", nil, nil, "", 400, "invalid", `snapshot name "42": must be`, ""},
		{"SnapshotRollbackBadName", "POST", gp + "/snapshots/a+b/rollback", nil, nil, "", 400, "invalid", `snapshot name "a+b"`, ""},
		{"SnapshotDownloadBadName", "GET", gp + "/disks/0/snapshots/%C3%A9/download", nil, nil, "", 400, "invalid", `snapshot name "é"`, ""},
	}
}

// accessRows are refused by Host, Origin, token or scope checks.
func (f badFixture) accessRows() []badRequest {
	gp, done := f.gp, f.done
	return []badRequest{
		{"ForeignOrigin", "GET", "/guests", nil, []string{"Origin", "http://evil.example"}, "", 403, "forbidden", "origin", ""},
		{"NullOrigin", "POST", gp + "/start", nil, []string{"Origin", "null"}, "", 403, "forbidden", "origin", ""},
		{"ForeignHost", "GET", "/guests", nil, []string{"Host", "evil.example:80"}, "", 403, "forbidden", "host", ""},
		{"ForeignHostHealthz", "GET", "/healthz", nil, []string{"Host", "rebound.example"}, "-", 403, "forbidden", "host", ""},
		{"MissingToken", "GET", "/guests", nil, nil, "-", 401, "unauthenticated", "missing", ""},
		{"BadToken", "GET", "/guests", nil, []string{"Authorization", "Bearer nope"}, "-", 401, "unauthenticated", "invalid token", ""},
		{"BasicAuth", "GET", "/guests", nil, []string{"Authorization", "Basic dTpw"}, "-", 401, "unauthenticated", "Bearer", ""},
		{"TokenOnUnknownPath", "GET", "/nosuch", nil, nil, "-", 401, "unauthenticated", "", ""},
		{"ReadTokenWrites", "POST", gp + "/start", nil, nil, readSecret, 403, "forbidden", "write", ""},
		{"ReadTokenCancels", "DELETE", "/jobs/" + done, nil, nil, readSecret, 403, "forbidden", "write", ""},
		{"WriteTokenPauses", "POST", "/queue/pause", nil, nil, writeSecret, 403, "forbidden", "admin", ""},
		{"WriteTokenPatchesHost", "PATCH", "/metadata", `{"a":"b"}`, nil, writeSecret, 403, "forbidden", "admin", ""},
	}
}

func TestHandler_BadRequests(t *testing.T) {
	t.Parallel()
	a := newAPI(t, rest.HandlerOptions{Tokens: testTokens(), Hosts: []string{selfHost}})
	f := newBadFixture(t, a)
	rows := append(append(append(append(f.bodyRows(), f.stateRows()...), f.fieldRows()...), f.accessRows()...), f.inputRows()...)
	require.GreaterOrEqual(t, len(rows), 40)
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			c := *a
			switch row.token {
			case "":
				c.token = adminSecret
			case "-":
				c.token = ""
			default:
				c.token = row.token
			}
			resp := c.do(t, row.method, row.path, row.body, row.hdr...)
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, row.status, resp.StatusCode, "%s", raw)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var e struct {
				Message string `json:"message"`
				Code    int    `json:"code"`
				Error   string `json:"error"`
			}
			require.NoError(t, json.Unmarshal(raw, &e), "%s", raw)
			require.Equal(t, row.status, e.Code)
			require.Equal(t, row.code, e.Error, e.Message)
			require.Contains(t, e.Message, row.msg)
			require.Equal(t, row.allow, resp.Header.Get("Allow"))
			if row.status == http.StatusUnauthorized {
				require.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer")
			}
		})
	}
}

// manyParams is a query of more parameters than Go's url.ParseQuery takes.
var manyParams = func() string {
	parts := make([]string, 10001)
	for i := range parts {
		parts[i] = fmt.Sprintf("p%d=%d", i, i)
	}
	return strings.Join(parts, "&")
}()

// bigMetadataPatch is a metadata PATCH body of 17 keys of 4000-byte values:
// each within the default limits, 68 KB in all, over the 16 KiB total.
var bigMetadataPatch = func() string {
	parts := make([]string, 17)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%02d":"%s"`, i, strings.Repeat("v", 4000))
	}
	return "{" + strings.Join(parts, ",") + "}"
}()
