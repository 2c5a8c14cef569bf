package memapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// maxJSONDepth is how deep a body may nest: encoding/json's own limit.
const maxJSONDepth = 10000

// checkDuplicateKeys refuses a JSON body in which one object, at any
// depth, gives a key twice: {"user_id": "a", "user_id": "b"} has no one
// meaning, and encoding/json would silently keep the last. Keys are
// compared as encoding/json matches them to fields, after unescaping and
// regardless of letter case ("user_id" and "USER_ID" fill one field);
// under "metadata" and in "metadata.<key>" filter keys, which are data,
// case counts. A body that is not valid JSON passes: decoding it reports
// that.
func checkDuplicateKeys(body []byte) error {
	type frame struct {
		obj       bool
		expectKey bool
		data      bool // keys are data: compared exactly
		path      string
		key       string // the key whose value comes next
		index     int    // the index of an array's next element
		keys      map[string]string
	}
	var stack []*frame
	child := func(top *frame) (path string, data bool) {
		switch {
		case top == nil:
			return "", false
		case top.obj:
			path = top.key
			if top.path != "" {
				path = top.path + "." + top.key
			}
			return path, top.data || strings.EqualFold(top.key, "metadata")
		}
		return fmt.Sprintf("%s[%d]", top.path, top.index), top.data
	}
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		if top := stack[len(stack)-1]; top.obj {
			top.expectKey = true
		} else {
			top.index++
		}
	}
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	for {
		tok, err := d.Token()
		if err != nil {
			return nil // the end, or invalid JSON for json.Unmarshal to report
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.expectKey {
			k, ok := tok.(string)
			if !ok { // the object's closing brace
				stack = stack[:len(stack)-1]
				valueDone()
				continue
			}
			fk := k
			if !top.data && !strings.HasPrefix(k, "metadata.") {
				fk = foldKey(k)
			}
			if prev, dup := top.keys[fk]; dup {
				where := "at the top level"
				if top.path != "" {
					where = "in " + top.path
				}
				also := ""
				if prev != k {
					also = fmt.Sprintf(" (as %q and %q: keys are matched regardless of letter case)", prev, k)
				}
				return fmt.Errorf("the key %q appears twice in one object %s%s; give it once", k, where, also)
			}
			top.keys[fk], top.key, top.expectKey = k, k, false
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return fmt.Errorf("the body nests deeper than %d levels", maxJSONDepth)
			}
			path, data := child(top)
			f := &frame{obj: tok == json.Delim('{'), path: path, data: data}
			if f.obj {
				f.expectKey, f.keys = true, map[string]string{}
			}
			stack = append(stack, f)
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// foldKey maps k to one spelling of all those equal to it regardless of
// case, as strings.EqualFold (and encoding/json) compare: each letter
// becomes the least of its simple case folds.
func foldKey(k string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, k)
}
