package auth

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRolePermissions(t *testing.T) {
	assert.True(t, RoleAdminAgent.Can(PermChange))
	assert.True(t, RoleAdminAgent.Can(PermPurchase))
	assert.True(t, RoleSalesAgent.Can(PermPurchase), "sales agents may still buy")
	assert.True(t, RoleSalesAgent.Can(PermRead))
	assert.False(t, RoleSalesAgent.Can(PermChange), "sales agents may not change subscriptions")
	assert.False(t, Role("intern").Can(PermRead))
	assert.True(t, RoleAdminAgent.Can(PermBilling))
	assert.False(t, RoleSalesAgent.Can(PermBilling), "billing is kept from sales agents")
}

func TestTokensAreRandomAndHashed(t *testing.T) {
	a, b := NewToken(), NewToken()
	assert.NotEqual(t, a, b)
	assert.Len(t, HashToken(a), 64)
	assert.NotContains(t, HashToken(a), a)
	assert.Equal(t, HashToken(a), HashToken(a))
}

func TestParseRole(t *testing.T) {
	r, err := ParseRole("sales_agent")
	assert.NoError(t, err)
	assert.Equal(t, RoleSalesAgent, r)
	_, err = ParseRole("root")
	assert.Error(t, err)
}
