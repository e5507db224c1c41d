package admin

import (
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/registry"
)

// Audit actions on roles.
const (
	actionRoleCreate = "role.create"
	actionRoleUpdate = "role.update"
	actionRoleDelete = "role.delete"
)

// roleListQueryParams are the parameters GET /roles takes.
var roleListQueryParams = map[string]bool{"limit": true, "cursor": true}

// listRoles serves GET /roles?limit=&cursor=, with the query rules of GET
// /clients.
func (h *handler) listRoles(w http.ResponseWriter, r *http.Request) {
	params, limit, ok := readListQuery(w, r, roleListQueryParams, "limit and cursor")
	if !ok {
		return
	}
	page, err := h.reg.ListRoles(r.Context(), registry.RoleQuery{Cursor: params.Get("cursor"), Limit: limit})
	if err != nil {
		h.failRole(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, page)
}

// createRole serves POST /roles: 201, a Location relative to the request
// ("roles/<name>") and the role.
func (h *handler) createRole(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readBody(w, r, mediaJSON)
	if !ok {
		return
	}
	m, err := registry.DecodeRoleMetadata(body)
	if err != nil {
		h.failRole(w, r, err)
		return
	}
	role, err := h.reg.CreateRole(r.Context(), m)
	if err != nil {
		h.failRole(w, r, err)
		return
	}
	h.auditRole(r, actionRoleCreate, role.Name)
	w.Header().Set("Location", "roles/"+url.PathEscape(role.Name))
	h.respond(w, r, http.StatusCreated, role)
}

// getRole serves GET /roles/{name}.
func (h *handler) getRole(w http.ResponseWriter, r *http.Request) {
	role, err := h.reg.GetRole(r.Context(), r.PathValue("name"))
	if err != nil {
		h.failRole(w, r, err)
		return
	}
	h.respond(w, r, http.StatusOK, role)
}

// patchRole serves PATCH /roles/{name} with an RFC 7396 merge patch; the
// name cannot change.
func (h *handler) patchRole(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readBody(w, r, mediaJSON, mediaMergePatch)
	if !ok {
		return
	}
	role, err := h.reg.PatchRole(r.Context(), r.PathValue("name"), body)
	if err != nil {
		h.failRole(w, r, err)
		return
	}
	h.auditRole(r, actionRoleUpdate, role.Name)
	h.respond(w, r, http.StatusOK, role)
}

// deleteRole serves DELETE /roles/{name}: 204; the role is taken off every
// user who held it.
func (h *handler) deleteRole(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := h.reg.DeleteRole(r.Context(), name); err != nil {
		h.failRole(w, r, err)
		return
	}
	h.auditRole(r, actionRoleDelete, name)
	w.WriteHeader(http.StatusNoContent)
}

// auditRole writes the audit line of a change to a role. Only a role that
// exists (or existed) gets here, so its name has a scope token's syntax.
func (h *handler) auditRole(r *http.Request, action, name string) {
	h.audit(r.Context(), action, "", zap.String("role", name))
}
