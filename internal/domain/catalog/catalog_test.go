package catalog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDevCatalogHasTheContractFixtures(t *testing.T) {
	c := Dev()
	var monthly, annual, fast bool
	for _, o := range c.Offers {
		assert.Equal(t, "isv-demo", o.PublisherID)
		for _, p := range o.Plans {
			monthly = monthly || (o.LicenseBased && p.TermDuration == "P1M")
			annual = annual || (o.LicenseBased && p.TermDuration == "P1Y")
			if p.ID == "fast" {
				fast = p.CancellationWindow == "PT60S" && p.TermDuration == "PT5M"
			}
		}
	}
	assert.True(t, monthly && annual && fast, "monthly %v annual %v fast %v", monthly, annual, fast)
}

func TestParseRejectsBrokenCatalogs(t *testing.T) {
	cases := map[string]string{
		"unknown publisher": `{"publishers":[],"offers":[{"id":"o","publisherId":"x","name":"O","licenseBased":true,"plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":1,"currency":"USD","minQuantity":1,"maxQuantity":2}]}]}`,
		"bad term":          `{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"1 month","billingFrequencies":["monthly"],"unitPrice":1,"currency":"USD","minQuantity":1,"maxQuantity":2}]}]}`,
		"bad bounds":        `{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":1,"currency":"USD","minQuantity":3,"maxQuantity":2}]}]}`,
		"bad currency":      `{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":1,"currency":"usd","minQuantity":1,"maxQuantity":2}]}]}`,
		"bad frequency":     `{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["weekly"],"unitPrice":1,"currency":"USD","minQuantity":1,"maxQuantity":2}]}]}`,
		"unknown field":     `{"publishers":[{"id":"x","secret":"s"}],"offers":[]}`,
		"no plans":          `{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[]}]}`,
		// Issue 25: "unlimited" as a huge maxQuantity (or price) could
		// wrap price x quantity x installments into a credit.
		"maxQuantity as unlimited": `{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":1,"currency":"USD","minQuantity":1,"maxQuantity":9223372036854775807}]}]}`,
		"huge unit price":          `{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":922337203685477580,"currency":"USD","minQuantity":1,"maxQuantity":2}]}]}`,
		"negative unit price":      `{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":-1,"currency":"USD","minQuantity":1,"maxQuantity":2}]}]}`,
	}
	for name, doc := range cases {
		_, err := Parse([]byte(doc))
		assert.Error(t, err, name)
	}
	_, err := Parse([]byte(`{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":1,"currency":"USD","minQuantity":1,"maxQuantity":2000000}]}]}`))
	assert.ErrorContains(t, err, "maxQuantity 2000000: want at most 1000000", "the error says what to do")
	_, err = Parse([]byte(`{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":10000000000,"currency":"USD","minQuantity":1,"maxQuantity":1000000}]}]}`))
	assert.NoError(t, err, "the bounds themselves are allowed")
}

func TestLoadFillsDefaultWindow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.json")
	doc := `{"publishers":[{"id":"x","name":"X","landingUrl":"https://x.example"}],"offers":[{"id":"o","publisherId":"x","name":"O","licenseBased":true,"plans":[{"id":"p","name":"P","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":1,"currency":"USD","minQuantity":1,"maxQuantity":2}]}]}`
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))
	c, err := Load(path)
	require.NoError(t, err)
	assert.Equal(t, DefaultCancellationWindow, c.Offers[0].Plans[0].CancellationWindow)
}

func TestMeteredPlansAreValidatedAndSnapshotExactly(t *testing.T) {
	plan := func(extra string) string {
		return `{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":1,"currency":"USD","minQuantity":1,"maxQuantity":1,"flatRate":true` + extra + `}]}]}`
	}
	dim := func(d string) string { return `,"dimensions":[` + d + `]` }
	for name, doc := range map[string]string{
		"flat rate with a licence count": `{"publishers":[{"id":"x"}],"offers":[{"id":"o","publisherId":"x","plans":[{"id":"p","termDuration":"P1M","billingFrequencies":["monthly"],"unitPrice":1,"currency":"USD","minQuantity":1,"maxQuantity":5,"flatRate":true}]}]}`,
		"repeated dimension":             plan(dim(`{"id":"a","name":"A","unitOfMeasure":"u","unitPrice":1,"includedQuantity":0},{"id":"a","name":"A","unitOfMeasure":"u","unitPrice":1,"includedQuantity":0}`)),
		"bad dimension id":               plan(dim(`{"id":"A B","name":"A","unitOfMeasure":"u","unitPrice":1,"includedQuantity":0}`)),
		"no unit of measure":             plan(dim(`{"id":"a","name":"A","unitOfMeasure":"","unitPrice":1,"includedQuantity":0}`)),
		"negative price":                 plan(dim(`{"id":"a","name":"A","unitOfMeasure":"u","unitPrice":-1,"includedQuantity":0}`)),
		"price beyond the bound":         plan(dim(`{"id":"a","name":"A","unitOfMeasure":"u","unitPrice":100001,"includedQuantity":0}`)),
		"negative included":              plan(dim(`{"id":"a","name":"A","unitOfMeasure":"u","unitPrice":1,"includedQuantity":-1}`)),
		"seven decimals included":        plan(dim(`{"id":"a","name":"A","unitOfMeasure":"u","unitPrice":1,"includedQuantity":0.0000001}`)),
	} {
		_, err := Parse([]byte(doc))
		assert.Error(t, err, name)
	}
	c, err := Parse([]byte(plan(dim(`{"id":"a","name":"A","unitOfMeasure":"u","unitPrice":7,"includedQuantity":12.000001}`))))
	require.NoError(t, err)
	snap := c.Offers[0].Plans[0].Snapshot()
	require.Len(t, snap.Dimensions, 1)
	assert.Equal(t, int64(12_000_001), int64(snap.Dimensions[0].IncludedQuantity), "kept in exact millionths")
	assert.Equal(t, int64(7), snap.Dimensions[0].UnitPrice)

	var metered, fastMetered bool
	for _, o := range Dev().Offers {
		for _, p := range o.Plans {
			metered = metered || (!o.LicenseBased && p.FlatRate && len(p.Dimensions) == 3 && p.TermDuration == "P1M")
			fastMetered = fastMetered || (p.Metered() && p.TermDuration == "PT5M")
		}
	}
	assert.True(t, metered && fastMetered, "the dev catalog sells a metered flat-rate offer, and a fast one whose periods close in minutes")
}
