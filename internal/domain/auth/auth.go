// Package auth holds who may do what: agent roles and their permissions,
// and the bearer tokens agents authenticate with (stored only as hashes).
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Role is an agent's role in the partner's organisation.
type Role string

// The roles of the source document.
const (
	RoleAdminAgent Role = "admin_agent"
	RoleSalesAgent Role = "sales_agent"
)

// Permission is one kind of action on the partner API.
type Permission string

// Permissions of the partner API.
const (
	PermRead     Permission = "read"     // offers, customers, subscriptions, events
	PermPurchase Permission = "purchase" // create customers, buy subscriptions
	PermChange   Permission = "change"   // rename, quantity, cancel, auto-renew, reseller, billing frequency
	// PermBilling: every amount of money, apart from the catalog's list
	// prices: a subscription's ledger and its unit price, the amounts in
	// its audit trail, invoices, unbilled lines, the reconciliation
	// export. Partner Center keeps billing from sales agents.
	PermBilling Permission = "billing"
)

// rolePermissions is the single table of who may do what. Sales agents may
// buy but, for now, not change a subscription (the source document calls
// the restriction temporary: lifting it is one line here).
var rolePermissions = map[Role][]Permission{
	RoleAdminAgent: {PermRead, PermPurchase, PermChange, PermBilling},
	RoleSalesAgent: {PermRead, PermPurchase},
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { _, ok := rolePermissions[r]; return ok }

// Can reports whether the role grants p.
func (r Role) Can(p Permission) bool {
	for _, granted := range rolePermissions[r] {
		if granted == p {
			return true
		}
	}
	return false
}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q: want %s or %s", s, RoleAdminAgent, RoleSalesAgent)
	}
	return r, nil
}

// Agent is the authenticated caller of the partner API: an agent of an
// agent token, or a person signed in with the identity provider (Person;
// ID is then the person's id, Role what the directory gave them).
type Agent struct {
	ID        string
	PartnerID string
	Role      Role
	Person    bool
	// Name is how the console greets them ("" for agent tokens: the
	// role says it).
	Name string
}

// HashToken is what the database keeps of a bearer token. Tokens are
// random and long, so a plain SHA-256 is enough (no password stretching).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken makes a new random bearer token.
func NewToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return "mpt_" + base64.RawURLEncoding.EncodeToString(b)
}
