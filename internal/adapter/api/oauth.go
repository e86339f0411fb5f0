package api

import (
	"crypto/subtle"
	"errors"
	"mime"
	"net/http"
	"strconv"

	"github.com/cspmarket/orchestrator/internal/domain/catalog"
)

// The product's own authorization server for Microsoft's dialect
// (CONTRACT.md "Microsoft dialects"): a publisher trades its client
// credentials (its id and webhook secret) for a short-lived JWT, which
// /api takes as a bearer token. Only the client credentials grant: no
// person signs in here.

// oauthError is RFC 6749's error answer (section 5.2).
func oauthError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// token is POST /oauth2/token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if s.Tokens == nil {
		writeProblem(w, r, http.StatusNotFound, "not_found", "This deployment issues no tokens.")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "Send the request as application/x-www-form-urlencoded.")
		return
	}
	if err := r.ParseForm(); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			oauthError(w, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.")
			return
		}
		oauthError(w, http.StatusBadRequest, "invalid_request", "The form does not parse.")
		return
	}
	if len(r.URL.Query()) > 0 && (r.URL.Query().Has("client_secret") || r.URL.Query().Has("client_id")) {
		// Credentials in a URL end up in logs and histories: refused.
		oauthError(w, http.StatusBadRequest, "invalid_request", "Send the client credentials in the body or the Authorization header, never in the URL.")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Only grant_type=client_credentials is supported.")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	var secrets [][]byte
	if catalog.ValidID(id) {
		var err error
		if secrets, err = s.Store.PublisherSecrets(r.Context(), id); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	valid := false
	for _, known := range secrets {
		// Constant time, and every secret compared, whichever matches.
		if subtle.ConstantTimeCompare(known, []byte(secret)) == 1 {
			valid = true
		}
	}
	if !valid {
		if wait, blocked := s.authFailures.failed(r); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			oauthError(w, http.StatusTooManyRequests, "slow_down", "Too many failed authentications from this address; retry later with valid credentials.")
			return
		}
		s.Logger.Warn("token refused", "requestId", requestID(r), "client", strconv.Quote(id))
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Unknown client or wrong secret.")
		return
	}
	token, expiresIn, err := s.Tokens.Issue(r.Context(), id, s.Tokens.APIAudience())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": expiresIn})
}

// jwks is GET /.well-known/jwks.json: the keys that verify the product's
// tokens. A verifier that meets a kid it does not know fetches it again:
// a rotated key is published when it starts signing.
func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	if s.Tokens == nil {
		writeProblem(w, r, http.StatusNotFound, "not_found", "This deployment issues no tokens.")
		return
	}
	set, err := s.Tokens.JWKS(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, set)
}

// openIDConfiguration is GET /.well-known/openid-configuration: the
// issuer and where its keys and token endpoint are.
func (s *Server) openIDConfiguration(w http.ResponseWriter, r *http.Request) {
	if s.Tokens == nil {
		writeProblem(w, r, http.StatusNotFound, "not_found", "This deployment issues no tokens.")
		return
	}
	base := s.Tokens.URL
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer": base, "jwks_uri": base + "/.well-known/jwks.json", "token_endpoint": base + "/oauth2/token",
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
	})
}
