package auth

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Entra ID's shape: the tenant in "tid", group object ids in "groups".
var entra = Directory{PartnerClaim: "tid", Partners: map[string]string{"tenant-a": "partner-demo", "tenant-b": "partner-other"},
	AdminGroup: "grp-admins", SalesGroup: "grp-sales"}

func TestTheDirectorySaysThePartnerAndTheRole(t *testing.T) {
	admin, err := entra.Person(map[string]any{"sub": "u1", "tid": "tenant-a", "name": "Ada", "email": "ada@a.example",
		"groups": []any{"grp-sales", "grp-admins"}})
	require.NoError(t, err)
	assert.Equal(t, Person{Subject: "u1", Name: "Ada", Email: "ada@a.example", PartnerID: "partner-demo", Role: RoleAdminAgent}, admin,
		"in both groups: the admin group wins")

	sales, err := entra.Person(map[string]any{"sub": "u2", "tid": "tenant-b", "preferred_username": "bob", "groups": []any{"grp-sales", 7}})
	require.NoError(t, err)
	assert.Equal(t, RoleSalesAgent, sales.Role)
	assert.Equal(t, "partner-other", sales.PartnerID)
	assert.Equal(t, "bob", sales.Name, "preferred_username when no name")

	// Keycloak may send one group as a string, under a claim of its own.
	kc := Directory{PartnerClaim: "org", Partners: map[string]string{"acme": "partner-demo"}, GroupsClaim: "roles", SalesGroup: "sales"}
	p, err := kc.Person(map[string]any{"sub": "u3", "org": "acme", "roles": "sales"})
	require.NoError(t, err)
	assert.Equal(t, RoleSalesAgent, p.Role)
}

func TestTheDirectoryRefusesWhomItDoesNotVouchFor(t *testing.T) {
	for name, c := range map[string]struct {
		claims map[string]any
		want   error
	}{
		"no subject":                   {map[string]any{"tid": "tenant-a", "groups": []any{"grp-admins"}}, ErrNoSubject},
		"blank subject":                {map[string]any{"sub": " ", "tid": "tenant-a", "groups": []any{"grp-admins"}}, ErrNoSubject},
		"an unknown organisation":      {map[string]any{"sub": "u", "tid": "tenant-x", "groups": []any{"grp-admins"}}, ErrUnknownPartner},
		"no organisation":              {map[string]any{"sub": "u", "groups": []any{"grp-admins"}}, ErrUnknownPartner},
		"an organisation not a string": {map[string]any{"sub": "u", "tid": []any{"tenant-a"}, "groups": []any{"grp-admins"}}, ErrUnknownPartner},
		"in neither group":             {map[string]any{"sub": "u", "tid": "tenant-a", "groups": []any{"grp-other"}}, ErrNoRole},
		"no groups at all":             {map[string]any{"sub": "u", "tid": "tenant-a"}, ErrNoRole},
	} {
		_, err := entra.Person(c.claims)
		assert.ErrorIs(t, err, c.want, name)
	}
	// No group configured is no role, never every role.
	_, err := Directory{PartnerClaim: "tid", Partners: entra.Partners}.Person(map[string]any{"sub": "u", "tid": "tenant-a", "groups": []any{""}})
	assert.ErrorIs(t, err, ErrNoRole)
}

func TestPartnersAreReadFromConfiguration(t *testing.T) {
	m, err := ParsePartners(" tenant-a = partner-demo ,tenant-b=partner-other,")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"tenant-a": "partner-demo", "tenant-b": "partner-other"}, m)
	for _, bad := range []string{"tenant-a", "=partner", "tenant=", "a=p1,a=p2"} {
		_, err := ParsePartners(bad)
		assert.Error(t, err, bad)
	}
}

// What a provider says of a person is recorded and shown only as text
// that cannot break a row or a page: control characters and direction
// overrides dropped, bounded; a subject that is not a short clean id is
// no one.
func TestOddBytesInClaims(t *testing.T) {
	d := Directory{PartnerClaim: "tid", Partners: map[string]string{"t1": "partner-demo"}, AdminGroup: "a"}
	p, err := d.Person(map[string]any{"sub": "u1", "tid": "t1", "groups": []any{"a"},
		"name": "Ada\x00 \u202eAdmin\n", "email": "ada@example.com\r\nBcc: x@example.com"})
	require.NoError(t, err)
	assert.Equal(t, "Ada Admin", p.Name)
	assert.Equal(t, "ada@example.comBcc: x@example.com", p.Email)
	p, err = d.Person(map[string]any{"sub": "u1", "tid": "t1", "groups": []any{"a"},
		"name": "Ada\u200b Ad\u00admin\u2028x\u2029\ufeff\u061c\u200e\u2060"})
	require.NoError(t, err)
	assert.Equal(t, "Ada Adminx", p.Name, "zero-width, soft hyphen, separators, marks")
	assert.False(t, Meaningful(" \u200b\u00a0\t"))
	assert.True(t, Meaningful("openid"))
	p, err = d.Person(map[string]any{"sub": "u1", "tid": "t1", "groups": []any{"a"}, "name": strings.Repeat("é", 1000)})
	require.NoError(t, err)
	assert.Equal(t, 200, utf8.RuneCountInString(p.Name))
	for _, sub := range []string{"u\x001", strings.Repeat("x", 256), "\xff\xfe", "u-\u202eSIDE", "u\u200b1"} {
		_, err = d.Person(map[string]any{"sub": sub, "tid": "t1", "groups": []any{"a"}})
		assert.ErrorIs(t, err, ErrNoSubject, "%q", sub)
	}
}
