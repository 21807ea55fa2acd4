package transport

import "github.com/opsmop/opsmop/inventory"

// ConnSettings is how to reach one host; DialSSH uses Name (for messages),
// Address, Port, User, Password, Sudo, SudoUser, SudoPassword,
// CheckHostKeys and IdentityFiles.
type ConnSettings = inventory.ConnSettings
