package console

import (
	"io/fs"
	"regexp"
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

// Every key a template asks for is in the catalog (a missing one would
// show its name on the page).
func TestTemplatesUseOnlyCatalogKeys(t *testing.T) {
	used := regexp.MustCompile(`\.T "([a-z._]+)"`)
	files, err := fs.Glob(templateFiles, "templates/*.html")
	assert.NoError(t, err)
	found := 0
	for _, f := range files {
		b, _ := fs.ReadFile(templateFiles, f)
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			found++
			assert.Contains(t, catalog["en"], m[1], "%s uses %q", f, m[1])
		}
	}
	assert.Greater(t, found, 40)
	for _, status := range []string{"pending_fulfillment", "provisioned", "active", "suspended", "pending_cancellation", "cancelled", "expired"} {
		assert.Contains(t, catalog["en"], "status."+status)
	}
}
