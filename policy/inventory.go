package policy

import (
	"fmt"
	"path/filepath"

	"go.starlark.net/starlark"

	"github.com/opsmop/opsmop/inventory"
)

// inventoryValue is the Starlark face of an inventory: TomlInventory(path)
// and its .filter(groups=, hosts=).
type inventoryValue struct {
	inv  *inventory.Inventory
	desc string
}

var _ starlark.HasAttrs = (*inventoryValue)(nil)

func (v *inventoryValue) String() string        { return v.desc }
func (v *inventoryValue) Type() string          { return "TomlInventory" }
func (v *inventoryValue) Freeze()               {}
func (v *inventoryValue) Truth() starlark.Bool  { return true }
func (v *inventoryValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: TomlInventory") }
func (v *inventoryValue) AttrNames() []string   { return []string{"filter"} }

func (v *inventoryValue) Attr(name string) (starlark.Value, error) {
	if name != "filter" {
		return nil, nil
	}
	return starlark.NewBuiltin("filter", v.filter).BindReceiver(v), nil
}

func (v *inventoryValue) filter(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var groups, hosts starlark.Value = starlark.None, starlark.None
	if err := starlark.UnpackArgs("filter", args, kwargs, "groups?", &groups, "hosts?", &hosts); err != nil {
		return nil, err
	}
	g, err := stringList(groups)
	if err != nil {
		return nil, fmt.Errorf("filter: groups %w", err)
	}
	h, err := stringList(hosts)
	if err != nil {
		return nil, fmt.Errorf("filter: hosts %w", err)
	}
	inv, err := v.inv.Filter(g, h)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return &inventoryValue{inv: inv, desc: fmt.Sprintf("%s.filter(groups=%s, hosts=%s)", v.desc, groups, hosts)}, nil
}

func tomlInventoryBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs("TomlInventory", args, kwargs, "path", &path); err != nil {
		return nil, err
	}
	rt := threadRuntime(thread)
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(rt.dir, path)
	}
	inv, err := inventory.LoadTOML(full)
	if err != nil {
		return nil, fmt.Errorf("TomlInventory: %w", err)
	}
	return &inventoryValue{inv: inv, desc: fmt.Sprintf("TomlInventory(%q)", path)}, nil
}
