package storage

import (
	"net/url"
	"sort"
	"strings"
)

// redacted stands for a secret left out of what the driver shows.
const redacted = "xxxxx"

// shownSource is an image source as the driver logs it, puts it in errors
// and records it in the image: a password in the URL and the values of its
// query (a signed URL's signature) are replaced, so that no secret reaches
// the log or a reader of jobs, events and images. A source that does not
// parse is shown as it is (it fails before anything is fetched).
func shownSource(source string) string {
	u, err := url.Parse(source)
	if err != nil {
		return source
	}
	if u.RawQuery != "" {
		q := u.Query()
		names := make([]string, 0, len(q))
		for name := range q {
			names = append(names, url.QueryEscape(name)+"="+redacted)
		}
		sort.Strings(names)
		u.RawQuery = strings.Join(names, "&")
	}
	return u.Redacted()
}
