package httpaccept

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	assert.Equal(t, []Range{{"text/csv", 1}, {"application/json", 0.5}}, Parse("Text/CSV; charset=utf-8, application/json;q=0.5"))
	assert.Equal(t, []Range{{"fr-ca", 1}, {"fr", 0.9}}, Parse("fr-CA, fr;q=0.9"))
	for _, bad := range []string{"q=abc", "q=inf", "q=NaN", "q=2", "q=-1"} {
		assert.Equal(t, []Range{{"text/csv", 0}}, Parse("text/csv;"+bad), bad)
	}
	assert.Empty(t, Parse(" , "))
}
