package fields

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuantityBoundsAreInclusive(t *testing.T) {
	assert.Nil(t, Quantity(1, 1, 1000, "monthly"), "the minimum is allowed")
	assert.Nil(t, Quantity(1000, 1, 1000, "monthly"), "the maximum is allowed")
	assert.NotNil(t, Quantity(0, 1, 1000, "monthly"))
	assert.NotNil(t, Quantity(1001, 1, 1000, "monthly"))
	assert.Equal(t, "quantity", Quantity(1001, 1, 1000, "monthly").Field)
}

func TestTextRefusesWhatNoPersonTypes(t *testing.T) {
	for _, bad := range []string{"a\x00b", "a\x1b[31m", "line\nbreak", "tab\there", "\x7f", "bad \xff utf8", "a\u0085b", "\ufffd", "\ufffe", "\U0001fffe"} {
		_, refused := Nickname(bad)
		assert.NotNil(t, refused, "%q", bad)
		assert.False(t, CleanText(bad), "%q", bad)
	}
	for _, good := range []string{"", "CRM seats", "Équipe commerciale", "販売", "emoji 🚀", strings.Repeat("é", NicknameMax)} {
		_, refused := Nickname(good)
		assert.Nil(t, refused, "%q", good)
	}
	n, refused := Nickname("  padded  ")
	assert.Nil(t, refused)
	assert.Equal(t, "padded", n)
	_, refused = Nickname(strings.Repeat("é", NicknameMax+1))
	assert.NotNil(t, refused)
	_, refused = CustomerName("   ")
	assert.NotNil(t, refused, "a name is required")
	_, refused = CustomerName(strings.Repeat("x", CustomerNameMax))
	assert.Nil(t, refused)
}

func TestIdsAndTokens(t *testing.T) {
	for _, good := range []string{"sub_9d3571a58f3e75674e380e7e", "cus_01167155-55a4-42f4-a52e-45f2e5738457", "contoso-crm", "isv-demo", "annual.v2"} {
		assert.True(t, ID(good), good)
	}
	for _, bad := range []string{"", "a b", "a\x00", "-lead", "../etc", strings.Repeat("a", 101), "é"} {
		assert.False(t, ID(bad), bad)
	}
	assert.Nil(t, Token("id", "evt-1:x/y", EventIDMax))
	assert.NotNil(t, Token("id", "evt 1", EventIDMax))
	assert.NotNil(t, Token("id", strings.Repeat("e", EventIDMax+1), EventIDMax))
	assert.Nil(t, ResellerPartnerID(""))
	assert.Nil(t, ResellerPartnerID("RESELLER-42"))
	assert.NotNil(t, ResellerPartnerID("<script>"))
}

// Names are stored in NFC: "é" typed as one character and as e plus a
// combining accent is one name (issue 25: nicknames were stored as sent).
func TestTextIsStoredInNFC(t *testing.T) {
	composed, decomposed := "Caf\u00e9 seats", "Cafe\u0301 seats"
	for _, in := range []string{composed, decomposed, "  " + decomposed + " "} {
		got, err := Nickname(in)
		require.Nil(t, err)
		assert.Equal(t, composed, got, "%q", in)
		got, err = CustomerName(in)
		require.Nil(t, err)
		assert.Equal(t, composed, got, "%q", in)
	}
	// The limit counts characters as stored: 100 decomposed "é" are 100.
	got, err := Nickname(strings.Repeat("e\u0301", NicknameMax))
	require.Nil(t, err)
	assert.Equal(t, strings.Repeat("\u00e9", NicknameMax), got)
}
