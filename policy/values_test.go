package policy

import (
	"reflect"
	"strings"
	"testing"

	"go.starlark.net/starlark"
)

func TestToGoAndBack(t *testing.T) {
	// Go values as msgpack or TOML may deliver them.
	in := map[string]any{
		"none": nil, "b": true, "i": 3, "i8": int8(-2), "u64": uint64(7), "f32": float32(0.5), "s": "x",
		"bytes": []byte("raw"), "strs": []string{"a"}, "anykeys": map[any]any{"k": 1},
		"nested": map[string]any{"l": []any{int64(1), map[string]any{}}},
		"tpl":    &Template{Src: "{{ a }}"},
	}
	sv, err := toStarlark(in)
	if err != nil {
		t.Fatal(err)
	}
	if sv.(*starlark.Dict).SetKey(starlark.String("new"), starlark.None) == nil {
		t.Error("host dicts must be frozen")
	}
	got, err := toGo(sv)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"none": nil, "b": true, "i": int64(3), "i8": int64(-2), "u64": int64(7), "f32": 0.5, "s": "x",
		"bytes": "raw", "strs": []any{"a"}, "anykeys": map[string]any{"k": int64(1)},
		"nested": map[string]any{"l": []any{int64(1), map[string]any{}}},
		"tpl":    &Template{Src: "{{ a }}"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %#v\nwant %#v", got, want)
	}
}

func TestToGoErrors(t *testing.T) {
	huge := starlark.MakeInt64(1).Lsh(70)
	d := starlark.NewDict(1)
	_ = d.SetKey(starlark.MakeInt(1), starlark.None)
	nested := starlark.NewList([]starlark.Value{starlark.String("ok"), d})
	for _, tc := range []struct {
		name string
		v    starlark.Value
		want string
	}{
		{"function", starlark.NewBuiltin("f", nil), "a builtin_function_or_method is not a value"},
		{"big int", huge, "integer 1180591620717411303424 is too large"},
		{"non-string key", d, "dict key 1 must be a string, not int"},
		{"nested", nested, "item 1: dict key 1 must be a string, not int"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := toGo(tc.v)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func TestHostValue(t *testing.T) {
	hv, err := newHostValue(Host{Name: "h1", Vars: map[string]any{"a": int64(1)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ attr, want string }{
		{"name", `"h1"`}, {"vars", `{"a": 1}`}, {"variables", `{"a": 1}`}, {"facts", `{}`},
	} {
		v, err := hv.Attr(tc.attr)
		if err != nil || v == nil || v.String() != tc.want {
			t.Errorf("host.%s = %v, %v; want %s", tc.attr, v, err, tc.want)
		}
	}
	if v, _ := hv.Attr("nope"); v != nil {
		t.Errorf("host.nope = %v, want no such field", v)
	}
}
