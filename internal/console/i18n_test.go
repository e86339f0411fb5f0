package console

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCatalogsHaveTheSameKeys(t *testing.T) {
	for _, lang := range languages {
		for key := range catalog["en"] {
			assert.NotEmpty(t, catalog[lang][key], "%s lacks %q", lang, key)
		}
		assert.Len(t, catalog[lang], len(catalog["en"]), lang)
	}
}

func TestLanguageChoice(t *testing.T) {
	assert.Equal(t, "en", language("", ""))
	assert.Equal(t, "fr", language("", "fr-FR,fr;q=0.9"))
	assert.Equal(t, "en", language("", "de, en;q=0.5, fr;q=0.2"))
	assert.Equal(t, "en", language("en", "fr"))
	assert.Equal(t, "en", language("xx", "fr;q=abc"))
}
