package transport

import "github.com/opsmop/opsmop/inventory"

// ConnSettings are a host's resolved connection settings.
type ConnSettings = inventory.ConnSettings
