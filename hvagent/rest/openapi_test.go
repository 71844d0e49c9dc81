package rest_test

import (
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/hvagent/rest"
)

// openAPIFile is the spec at the repository root, seen from this package.
const openAPIFile = "../../openapi.yaml"

// openAPIMethods are the operation keys of an OpenAPI path item.
var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openAPIOperation is the part of an operation the tests check.
type openAPIOperation struct {
	OperationID string               `yaml:"operationId"`
	Summary     string               `yaml:"summary"`
	Parameters  []openAPIParameter   `yaml:"parameters"`
	Responses   map[string]yaml.Node `yaml:"responses"`
	// Security is nil when the operation uses the global requirement.
	Security *[]map[string][]string `yaml:"security"`
}

// openAPIParameter is a parameter or a $ref to one.
type openAPIParameter struct {
	Ref  string `yaml:"$ref"`
	Name string `yaml:"name"`
	In   string `yaml:"in"`
}

// openAPIPathItem is one entry of paths: shared parameters and operations.
type openAPIPathItem struct {
	Parameters []openAPIParameter
	Operations map[string]openAPIOperation // by upper-case method
}

// openAPISpec is openapi.yaml decoded: the raw tree (for $ref) and its paths.
type openAPISpec struct {
	Root  *yaml.Node
	Paths map[string]openAPIPathItem
}

// loadOpenAPI parses openapi.yaml into the minimal model the tests use.
func loadOpenAPI(t *testing.T) *openAPISpec {
	t.Helper()
	data, err := os.ReadFile(openAPIFile)
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &doc), "parse %s", openAPIFile)
	var top struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	require.NoError(t, doc.Decode(&top))
	require.Equal(t, "3.0.3", top.OpenAPI)
	require.NotEmpty(t, top.Paths)
	spec := &openAPISpec{Root: &doc, Paths: map[string]openAPIPathItem{}}
	for path, item := range top.Paths {
		pi := openAPIPathItem{Operations: map[string]openAPIOperation{}}
		for key, node := range item {
			switch {
			case key == "parameters":
				require.NoError(t, node.Decode(&pi.Parameters), "%s parameters", path)
			case slices.Contains(openAPIMethods, key):
				var op openAPIOperation
				require.NoError(t, node.Decode(&op), "%s %s", key, path)
				pi.Operations[strings.ToUpper(key)] = op
			}
		}
		spec.Paths[path] = pi
	}
	return spec
}

// resolve returns the node a local "#/a/b" reference points to.
func (s *openAPISpec) resolve(ref string) (*yaml.Node, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("ref %q is not local", ref)
	}
	node := s.Root.Content[0]
	for _, part := range strings.Split(rest, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		next := mappingValue(node, part)
		if next == nil {
			return nil, fmt.Errorf("ref %q: no %q", ref, part)
		}
		node = next
	}
	return node, nil
}

// mappingValue returns the value of key in a mapping node, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// operations returns "METHOD /path" for every operation of the spec.
func (s *openAPISpec) operations() []string {
	var ops []string
	for path, item := range s.Paths {
		for method := range item.Operations {
			ops = append(ops, method+" "+path)
		}
	}
	sort.Strings(ops)
	return ops
}

// muxWildcard matches a ServeMux wildcard: {name}, {name...} or {$}.
var muxWildcard = regexp.MustCompile(`\{([A-Za-z_][A-Za-z0-9_]*)?(\.\.\.)?(\$)?\}`)

// openAPIPath turns a ServeMux pattern path into an OpenAPI path template.
func openAPIPath(pattern string) string {
	return muxWildcard.ReplaceAllStringFunc(pattern, func(w string) string {
		if w == "{$}" {
			return ""
		}
		return "{" + strings.TrimSuffix(strings.Trim(w, "{}"), "...") + "}"
	})
}

// handlerOperations returns "METHOD /path" for every route the handler serves.
func handlerOperations(t *testing.T) []string {
	t.Helper()
	var ops []string
	for _, r := range rest.Routes() {
		require.NotEmpty(t, r.Method, "route %q has no method", r.Pattern)
		require.True(t, strings.HasPrefix(r.Pattern, "/"), "route %q is not a path", r.Pattern)
		ops = append(ops, r.Method+" "+openAPIPath(r.Pattern))
	}
	sort.Strings(ops)
	return ops
}

// missingFrom returns the entries of want that are not in have.
func missingFrom(have, want []string) []string {
	var out []string
	for _, w := range want {
		if !slices.Contains(have, w) {
			out = append(out, w)
		}
	}
	return out
}

func TestOpenAPIRoutesMatchHandler(t *testing.T) {
	t.Parallel()
	spec := loadOpenAPI(t).operations()
	served := handlerOperations(t)
	require.NotEmpty(t, served)
	require.Equal(t, len(served), len(slices.Compact(slices.Clone(served))), "rest.Routes() lists a route twice")
	require.Empty(t, missingFrom(spec, served), "served by rest.Routes() but missing from openapi.yaml")
	require.Empty(t, missingFrom(served, spec), "in openapi.yaml but not served by rest.Routes()")
}

func TestOpenAPIOperations(t *testing.T) {
	t.Parallel()
	spec := loadOpenAPI(t)
	ids := map[string]string{}
	for path, item := range spec.Paths {
		for method, op := range item.Operations {
			name := method + " " + path
			require.NotEmpty(t, op.OperationID, "%s has no operationId", name)
			prev, dup := ids[op.OperationID]
			require.False(t, dup, "%s reuses the operationId of %s", name, prev)
			ids[op.OperationID] = name
			require.NotEmpty(t, op.Summary, "%s has no summary", name)
			require.True(t, hasSuccess(op), "%s has no 2xx response", name)
			in := spec.pathParams(t, name, item.Parameters, op.Parameters)
			require.ElementsMatch(t, templateParams(path), in, "%s: path parameters differ from the template", name)
			spec.checkErrors(t, name, method, op)
		}
	}
}

// checkErrors checks the error replies every operation of its kind can
// get: 401, 403 and 429 (the request rate) behind a token, 400 and 413 on
// a mutation (the body is read and limited), the job headers and 429 on an
// async 202, and a 503 with Retry-After on the routes of a concurrency
// limit (streams, events).
func (s *openAPISpec) checkErrors(t *testing.T, name, method string, op openAPIOperation) {
	t.Helper()
	var want []string
	if _, path, _ := strings.Cut(name, " "); concurrencyLimited(path) {
		ref := mappingValue(ptr(op.Responses["503"]), "$ref")
		require.NotNil(t, ref, "%s does not document its 503", name)
		require.Equal(t, "#/components/responses/Limited", ref.Value, "%s: the 503 of a limit has Retry-After", name)
	}
	if op.Security == nil {
		want = append(want, "401", "403", "429")
	} else {
		require.Empty(t, *op.Security, "%s: only the global bearer scheme or none is used", name)
	}
	if method == "POST" || method == "PATCH" || method == "DELETE" {
		want = append(want, "400", "413")
	}
	accepted, async := op.Responses["202"]
	if async {
		want = append(want, "429")
		node := &accepted
		if ref := mappingValue(node, "$ref"); ref != nil {
			var err error
			node, err = s.resolve(ref.Value)
			require.NoError(t, err, name)
		}
		var resp struct {
			Headers map[string]yaml.Node `yaml:"headers"`
		}
		require.NoError(t, node.Decode(&resp), name)
		headers := slices.Sorted(maps.Keys(resp.Headers))
		require.Contains(t, headers, "X-Guest-Job-ID", "%s: 202 without the job header", name)
		require.Contains(t, headers, "Location", "%s: 202 without Location", name)
	}
	codes := slices.Sorted(maps.Keys(op.Responses))
	for _, code := range want {
		require.Contains(t, codes, code, "%s does not document %s", name, code)
	}
}

// concurrencyLimited reports whether path counts against max_streams or
// max_event_clients.
func concurrencyLimited(path string) bool {
	return path == "/events" || strings.HasSuffix(path, "/download") || strings.HasSuffix(path, "/console")
}

func ptr[T any](v T) *T { return &v }

// hasSuccess reports whether op documents a 2xx response.
func hasSuccess(op openAPIOperation) bool {
	for code := range op.Responses {
		if len(code) == 3 && code[0] == '2' {
			return true
		}
	}
	return false
}

// pathParams returns the names of the path parameters declared for an
// operation, on its path item or on itself, with $refs resolved.
func (s *openAPISpec) pathParams(t *testing.T, name string, lists ...[]openAPIParameter) []string {
	t.Helper()
	var names []string
	for _, list := range lists {
		for _, p := range list {
			if p.Ref != "" {
				node, err := s.resolve(p.Ref)
				require.NoError(t, err, name)
				require.NoError(t, node.Decode(&p), "%s: %s", name, p.Ref)
			}
			if p.In == "path" {
				names = append(names, p.Name)
			}
		}
	}
	return names
}

// templateParams returns the {names} of an OpenAPI path template.
func templateParams(path string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
		names = append(names, m[1])
	}
	return names
}

func TestOpenAPIRefsResolve(t *testing.T) {
	t.Parallel()
	spec := loadOpenAPI(t)
	var refs []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == "$ref" {
					refs = append(refs, n.Content[i+1].Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(spec.Root)
	require.NotEmpty(t, refs)
	for _, ref := range refs {
		_, err := spec.resolve(ref)
		require.NoError(t, err)
	}
}

func TestOpenAPIPathConversion(t *testing.T) {
	t.Parallel()
	for pattern, want := range map[string]string{
		"/guests/{id}/jobs/{jobID}": "/guests/{id}/jobs/{jobID}",
		"/debug/pprof/{name...}":    "/debug/pprof/{name}",
		"/{$}":                      "/",
		"/healthz":                  "/healthz",
	} {
		require.Equal(t, want, openAPIPath(pattern), pattern)
	}
}

func TestOpenAPIErrorCodes(t *testing.T) {
	t.Parallel()
	spec := loadOpenAPI(t)
	// The Error body's word and a failed Job's Error are the same table.
	for _, ref := range []string{"#/components/schemas/Error/properties/error/enum", "#/components/schemas/Job/properties/Error/enum"} {
		node, err := spec.resolve(ref)
		require.NoError(t, err)
		var words []string
		require.NoError(t, node.Decode(&words))
		require.ElementsMatch(t, []string{
			hvagent.EINVALID, hvagent.EUNAUTHENTICATED, hvagent.EFORBIDDEN, hvagent.ENOTFOUND,
			hvagent.EMETHODNOTALLOWED, hvagent.ECONFLICT, hvagent.ECANCELED, hvagent.ETOOLARGE,
			hvagent.EBUSY, hvagent.EINTERNAL, hvagent.ESUBAGENT, hvagent.EUNAVAILABLE, hvagent.ETIMEOUT,
		}, words, ref)
	}
}
