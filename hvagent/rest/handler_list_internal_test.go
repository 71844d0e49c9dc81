package rest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hvagent/hvagent/hvagent"
)

// TestReplyList requires replyList to send what reply sends for the same
// list, byte for byte: a list reply encoded item by item is the same
// reply.
func TestReplyList(t *testing.T) {
	t.Parallel()
	many := make([]*hvagent.Guest, 3000) // larger than listChunk
	for i := range many {
		many[i] = &hvagent.Guest{ID: strconv.Itoa(i), Name: "g<" + strconv.Itoa(i) + ">&", State: "running",
			Disks: []hvagent.Disk{{Size: 1024}}, Metadata: map[string]string{"b": "2", "a": "\u2028"}}
	}
	for name, list := range map[string][]*hvagent.Guest{"Empty": {}, "Nil": nil, "One": many[:1], "Many": many,
		"Nil item": {many[0], nil, many[1]}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want := httptest.NewRecorder()
			require.NoError(t, (&exchange{w: want}).reply(http.StatusOK, nonNilList(list)))
			got := httptest.NewRecorder()
			require.NoError(t, replyList(&exchange{w: got}, http.StatusOK, list))
			require.Equal(t, want.Code, got.Code)
			require.Equal(t, want.Header(), got.Header())
			require.Equal(t, want.Body.String(), got.Body.String())
		})
	}
}
