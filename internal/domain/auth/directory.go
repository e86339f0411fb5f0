package auth

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/cspmarket/orchestrator/internal/domain/fields"
)

// People signed in with their organisation's identity provider (issue 29,
// CONTRACT.md "Sign-in with an identity provider"): which partner they act
// for and in which role comes from their directory's claims, never from
// anything they type. This is the rule alone, with no I/O: the adapter
// verifies the ID or access token first (issuer, audience, expiry,
// signature) and hands the verified claims here.

// Directory is how a provider's claims map to partners and roles.
type Directory struct {
	// PartnerClaim names the claim that says the person's organisation
	// (Microsoft Entra ID: "tid", the tenant; Google: "hd", the hosted
	// domain; Keycloak: a claim of the realm's mapper).
	PartnerClaim string
	// Partners maps that claim's values to partner ids: an organisation
	// not in it is refused, whatever its groups.
	Partners map[string]string
	// GroupsClaim names the claim listing the person's groups ("groups"
	// when empty); AdminGroup and SalesGroup are the groups that make an
	// admin agent or a sales agent.
	GroupsClaim            string
	AdminGroup, SalesGroup string
}

// Person is someone the directory vouches for.
type Person struct {
	// Subject is the provider's stable id of the person (the "sub"
	// claim); with the issuer it names them for good.
	Subject     string
	Name, Email string
	PartnerID   string
	Role        Role
}

// Why a person is refused (the sign-in page says it).
var (
	ErrNoSubject      = errors.New("the identity provider named no subject")
	ErrUnknownPartner = errors.New("your organisation is not a partner of this marketplace")
	ErrNoRole         = errors.New("you are in neither the admin agents' group nor the sales agents' group")
)

// Person is who the verified claims say: the partner their organisation
// is, and admin agent when they are in the admin group (it wins over the
// sales group), sales agent when only in the sales group; refused
// otherwise, saying why.
func (d Directory) Person(claims map[string]any) (Person, error) {
	sub, _ := claims["sub"].(string)
	if strings.TrimSpace(sub) == "" || len(sub) > maxSubject || !fields.CleanText(sub) || strings.ContainsFunc(sub, hidden) {
		// Providers' subjects are short opaque ids; anything else is
		// not a person this directory can name.
		return Person{}, ErrNoSubject
	}
	p := Person{Subject: sub, Email: Shown(stringClaim(claims, "email"))}
	p.Name = Shown(stringClaim(claims, "name"))
	if p.Name == "" {
		p.Name = Shown(stringClaim(claims, "preferred_username"))
	}
	org := stringClaim(claims, d.PartnerClaim)
	partner, ok := d.Partners[org]
	if org == "" || !ok {
		return Person{}, fmt.Errorf("%w (claim %q is %q)", ErrUnknownPartner, d.PartnerClaim, org)
	}
	p.PartnerID = partner
	groups := groupsOf(claims[cmp.Or(d.GroupsClaim, "groups")])
	switch {
	case d.AdminGroup != "" && slices.Contains(groups, d.AdminGroup):
		p.Role = RoleAdminAgent
	case d.SalesGroup != "" && slices.Contains(groups, d.SalesGroup):
		p.Role = RoleSalesAgent
	default:
		return Person{}, ErrNoRole
	}
	return p, nil
}

// Bounds of what a person is recorded with (OpenID Connect sets none).
const (
	maxSubject = 255
	maxShown   = 200
)

// Shown is a name or email as it may be recorded and shown, whichever
// way it came (an ID token, userinfo): without hidden characters (a NUL
// is refused by databases, a newline forges lines, a direction override
// or a zero-width space makes a name read as another), invalid UTF-8
// dropped, trimmed, at most maxShown characters.
func Shown(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.ToValidUTF8(s, "") {
		if hidden(r) {
			continue
		}
		if n++; n > maxShown {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// hidden reports a character that changes how text reads without being
// seen: control characters, format characters (the bidirectional
// embeddings and overrides, zero-width spaces and joiners, soft hyphens,
// byte order marks: look-alike names), and the line and paragraph
// separators that break a line where they are shown.
func hidden(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// Meaningful reports whether s has a character that shows: not only
// spaces or hidden ones.
func Meaningful(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsGraphic(r) && !unicode.IsSpace(r) && !hidden(r) }) >= 0
}

// stringClaim is a claim that is a string, "" otherwise.
func stringClaim(claims map[string]any, name string) string {
	if name == "" {
		return ""
	}
	s, _ := claims[name].(string)
	return s
}

// groupsOf reads a groups claim: a JSON array of strings (what providers
// send), or one string.
func groupsOf(v any) []string {
	switch g := v.(type) {
	case string:
		return []string{g}
	case []string:
		return g
	case []any:
		out := make([]string, 0, len(g))
		for _, e := range g {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// ParsePartners reads the organisation-to-partner map of the
// configuration: "org=partner,org=partner" (OIDC_PARTNERS).
func ParsePartners(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		org, partner, ok := strings.Cut(pair, "=")
		org, partner = strings.TrimSpace(org), strings.TrimSpace(partner)
		if !ok || org == "" || partner == "" {
			return nil, fmt.Errorf("OIDC_PARTNERS: %q is not organisation=partner", pair)
		}
		if prev, dup := out[org]; dup && prev != partner {
			return nil, fmt.Errorf("OIDC_PARTNERS: organisation %q maps to both %s and %s", org, prev, partner)
		}
		out[org] = partner
	}
	return out, nil
}
