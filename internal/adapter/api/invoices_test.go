package api

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestInvoiceContentNegotiation(t *testing.T) {
	for accept, want := range map[string]string{
		"":                                   "application/json",
		"application/json":                   "application/json",
		"*/*":                                "application/json",
		"text/csv":                           "text/csv",
		"text/*":                             "text/csv",
		"TEXT/CSV; charset=utf-8":            "text/csv",
		"application/json;q=0.5, text/csv":   "text/csv",
		"text/csv;q=0.2, application/json":   "application/json",
		"text/csv;q=0":                       "",
		"text/csv;q=abc":                     "",
		"text/csv;q=inf":                     "",
		"text/csv;q=NaN":                     "",
		"image/png":                          "",
		"text/csv;q=2, application/json;q=1": "application/json",
	} {
		assert.Equal(t, want, negotiate(accept), "Accept: %q", accept)
	}
}

// A text cell a spreadsheet would read as a formula is neutralised.
func TestCSVTextCellsAreNotFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"-A1-B1": "'-A1-B1", "=1+1": "'=1+1", "+cmd": "'+cmd", "@SUM": "'@SUM", "\tx": "'\tx",
		"RESELLER-42": "RESELLER-42", "cus_1": "cus_1", "": "",
	} {
		assert.Equal(t, want, csvText(in), in)
	}
}
