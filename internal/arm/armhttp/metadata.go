package armhttp

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/keystage/keystage/internal/fault"
)

// MetadataHandler serves ARM's anonymous cloud metadata, GET /metadata/endpoints, which
// az cloud register --endpoint-resource-manager and the SDKs' cloud discovery read: where the
// authority, Graph and Key Vault are, and which audiences management tokens carry. It
// describes one cloud, "Keystage", whose every endpoint is the server itself.
type MetadataHandler struct {
	baseURL     string // https://host[:port], no trailing slash
	vaultSuffix string // DNS suffix of vault hosts, without a leading dot
}

// NewMetadataHandler describes the server at baseURL whose vaults live under vaultSuffix.
func NewMetadataHandler(baseURL, vaultSuffix string) *MetadataHandler {
	return &MetadataHandler{baseURL: strings.TrimRight(baseURL, "/"), vaultSuffix: strings.Trim(vaultSuffix, ".")}
}

type cloudMetadata struct {
	Name                     string              `json:"name"`
	Portal                   string              `json:"portal"`
	ResourceManager          string              `json:"resourceManager"`
	MicrosoftGraphResourceID string              `json:"microsoftGraphResourceId"`
	Graph                    string              `json:"graph"`
	GraphAudience            string              `json:"graphAudience"`
	Authentication           cloudAuthentication `json:"authentication"`
	Suffixes                 map[string]string   `json:"suffixes"`
}

type cloudAuthentication struct {
	LoginEndpoint    string   `json:"loginEndpoint"`
	Audiences        []string `json:"audiences"`
	Tenant           string   `json:"tenant"`
	IdentityProvider string   `json:"identityProvider"`
}

// legacyMetadata is the single-object answer of api-versions before 2019-05-01.
type legacyMetadata struct {
	GalleryEndpoint string              `json:"galleryEndpoint"`
	GraphEndpoint   string              `json:"graphEndpoint"`
	PortalEndpoint  string              `json:"portalEndpoint"`
	Authentication  cloudAuthentication `json:"authentication"`
	Suffixes        map[string]string   `json:"suffixes"`
}

func (m *MetadataHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.Trim(strings.ToLower(r.URL.Path), "/") != "metadata/endpoints" {
		writeError(w, r, slog.New(slog.DiscardHandler), fault.New(fault.NotFound, "NotFound", "Only /metadata/endpoints is served under /metadata."))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Error: errorDetail{Code: "MethodNotAllowed", Message: "Use GET."}})
		return
	}
	base := m.baseURL
	if base == "" {
		base = "https://" + r.Host
	}
	auth := cloudAuthentication{
		LoginEndpoint: base, Audiences: []string{AudienceManagementCore, AudienceManagement},
		Tenant: "common", IdentityProvider: "AAD",
	}
	suffixes := map[string]string{"keyVaultDns": "." + m.vaultSuffix}
	// api-version 1.0 and 2015-01-01 answer one object; 2019-05-01 and later a list of clouds.
	v := Query(r, "api-version")
	if v == "" || v == "1.0" || (wellFormedAPIVersion(v) && v < "2019-05-01") {
		writeJSON(w, http.StatusOK, legacyMetadata{GalleryEndpoint: base + "/", GraphEndpoint: base + "/", PortalEndpoint: base + "/", Authentication: auth, Suffixes: suffixes})
		return
	}
	writeJSON(w, http.StatusOK, []cloudMetadata{{
		Name: "Keystage", Portal: base, ResourceManager: base + "/", MicrosoftGraphResourceID: base + "/",
		Graph: base + "/", GraphAudience: base + "/", Authentication: auth, Suffixes: suffixes,
	}})
}
